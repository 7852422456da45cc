// A hand-driven network of Raft cores for named scenarios, in the style of etcd's raft_test.go:
// messages are pumped until the cluster is quiet, links can be cut, nodes isolated, message types
// ignored, and nodes crashed and restarted from what they persisted.
import { Raft, NONE, type Entry, type HardState, type Message, type MessageType, type NodeId, type RaftConfig, type ReadState, type Ready, type Snapshot } from '../../src/raft/index.js';

export interface Disk {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

export function entries(...terms: number[]): Entry[] {
  return terms.map((term, k) => ({ term, index: k + 1, type: 0, data: new Uint8Array([k + 1, term]) }));
}

export function data(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

export function text(e: Entry): string {
  return new TextDecoder().decode(e.data);
}

export class Net {
  readonly nodes = new Map<NodeId, Raft>();
  readonly disks = new Map<NodeId, Disk>();
  readonly applied = new Map<NodeId, Entry[]>();
  /** The read states each node was handed. */
  readonly reads = new Map<NodeId, ReadState[]>();
  /** Every message delivered, for assertions about what was said. */
  readonly delivered: Message[] = [];
  private readonly cutLinks = new Set<string>();
  private readonly ignored = new Set<MessageType>();
  private queue: Message[] = [];
  readonly ids: NodeId[];
  /** Nodes that joined later start with no configuration: they learn it from the leader. */
  private readonly joined = new Set<NodeId>();

  constructor(
    n: number,
    private readonly opts: Partial<RaftConfig> & { logs?: Record<number, Entry[]>; terms?: Record<number, number> } = {},
  ) {
    this.ids = Array.from({ length: n }, (_, k) => k + 1);
    for (const id of this.ids) {
      const ents = opts.logs?.[id] ?? [];
      const term = opts.terms?.[id] ?? (ents.length ? ents[ents.length - 1].term : 0);
      this.disks.set(id, { hardState: { term, vote: NONE, commit: 0 }, snapshot: null, entries: ents });
      this.boot(id);
    }
  }

  boot(id: NodeId): Raft {
    const d = this.disks.get(id)!;
    const { logs: _l, terms: _t, ...cfg } = this.opts;
    const r = new Raft({
      electionTicks: 10,
      heartbeatTicks: 1,
      ...cfg,
      id,
      seed: id,
      conf: this.joined.has(id) ? { voters: [], learners: [] } : { voters: this.ids.filter((x) => !this.joined.has(x)), learners: [] },
      persisted: { hardState: { ...d.hardState }, snapshot: d.snapshot, entries: d.entries.slice() },
    });
    this.nodes.set(id, r);
    this.applied.set(id, []);
    this.reads.set(id, []);
    return r;
  }

  /** A new node with an empty disk, to be added by the leader (proposeConfChange). */
  join(id: NodeId): Raft {
    this.ids.push(id);
    this.joined.add(id);
    this.disks.set(id, { hardState: { term: 0, vote: NONE, commit: 0 }, snapshot: null, entries: [] });
    return this.boot(id);
  }

  node(id: NodeId): Raft {
    return this.nodes.get(id)!;
  }

  leader(): Raft | undefined {
    const ls = [...this.nodes.values()].filter((r) => r.role === 'leader');
    return ls.length === 1 ? ls[0] : undefined;
  }

  cut(a: NodeId, b: NodeId): void {
    this.cutLinks.add(`${a}>${b}`);
    this.cutLinks.add(`${b}>${a}`);
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.cutLinks.add(`${from}>${to}`);
  }

  isolate(id: NodeId): void {
    for (const o of this.ids) if (o !== id) this.cut(id, o);
  }

  ignore(t: MessageType): void {
    this.ignored.add(t);
  }

  recover(): void {
    this.cutLinks.clear();
    this.ignored.clear();
  }

  /** Crash: the node loses everything it did not persist. */
  crash(id: NodeId): void {
    this.nodes.delete(id);
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
  }

  /** Collects and carries out one Ready of a node: persist, queue messages, apply, advance. */
  processReady(id: NodeId): Ready | null {
    const r = this.nodes.get(id);
    if (!r || !r.hasReady()) return null;
    const rd = r.ready();
    const d = this.disks.get(id)!;
    if (rd.snapshot) {
      d.snapshot = rd.snapshot;
      d.entries = [];
    }
    if (rd.entries.length) {
      const first = rd.entries[0].index;
      d.entries = d.entries.filter((e) => e.index < first).concat(rd.entries);
    }
    if (rd.hardState) d.hardState = { ...rd.hardState };
    this.queue.push(...rd.messages);
    this.applied.get(id)!.push(...rd.committedEntries);
    this.reads.get(id)!.push(...rd.readStates);
    r.advance(rd);
    return rd;
  }

  /** Pumps Readys and messages until nothing moves (or a bound, to catch livelock). */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let moved = false;
      for (const id of this.ids) if (this.processReady(id)) moved = true;
      if (this.queue.length > 0) {
        moved = true;
        const q = this.queue;
        this.queue = [];
        for (const m of q) this.deliver(m);
      }
      if (!moved) return;
    }
    throw new Error('network did not stabilize');
  }

  deliver(m: Message): void {
    if (this.cutLinks.has(`${m.from}>${m.to}`) || this.ignored.has(m.type)) return;
    const r = this.nodes.get(m.to);
    if (!r) return;
    this.delivered.push(m);
    r.step(m);
  }

  /** Drains the messages produced so far without delivering them; returns them. */
  take(id: NodeId): Message[] {
    this.processReady(id);
    const mine = this.queue.filter((m) => m.from === id);
    this.queue = this.queue.filter((m) => m.from !== id);
    return mine;
  }

  campaign(id: NodeId): void {
    this.node(id).campaign();
    this.stabilize();
  }

  propose(id: NodeId, s: string): void {
    this.node(id).propose(data(s));
    this.stabilize();
  }

  tick(id: NodeId, n: number): void {
    for (let k = 0; k < n; k++) {
      this.node(id).tick();
      this.stabilize();
    }
  }

  tickAll(n: number): void {
    for (let k = 0; k < n; k++) {
      for (const r of this.nodes.values()) r.tick();
      this.stabilize();
    }
  }

  /** The applied commands of a node, as text (no-ops left out). */
  appliedText(id: NodeId): string[] {
    return this.applied.get(id)!.filter((e) => e.data.length > 0 && e.type === 0).map(text);
  }

  logTerms(id: NodeId): number[] {
    const r = this.node(id);
    const out: number[] = [];
    for (let i = r.log.firstIndex(); i <= r.log.lastIndex(); i++) out.push(r.log.term(i));
    return out;
  }
}
