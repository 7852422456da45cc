// A deterministic simulation of a Raft cluster in one process: virtual time, a seeded network that
// drops, duplicates, delays (so reorders) and partitions messages, crashes that lose whatever was not
// persisted, pauses, leadership transfers, client proposals and ReadIndex reads. Every Ready is
// checked against the safety properties; after the faults stop, liveness is required within a bound.

import { Raft, Random, NONE, type ConfState, type Entry, type HardState, type Message, type NodeId, type Snapshot } from '../../src/raft/index.js';
import { EventHeap } from './heap.js';
import { SafetyChecker, Violation, encodeValue, valueOf } from './invariants.js';

export type FaultKind =
  | 'crash'
  | 'restart'
  | 'partition'
  | 'oneway'
  | 'isolate'
  | 'heal'
  | 'pause'
  | 'transfer'
  | 'crash-leader'
  | 'forget-leader'
  // Membership, proposed by whichever node leads: a new node joins as a learner, a learner is
  // promoted, a member (perhaps the leader itself) is removed.
  | 'add-learner'
  | 'promote'
  | 'remove';

export interface Fault {
  /** Virtual milliseconds from the start. */
  at: number;
  kind: FaultKind;
  /** Picks the node(s) involved, modulo the cluster size. */
  a: number;
  b: number;
}

export interface Schedule {
  nodes: number;
  seed: number;
  /** Percent of messages dropped during the fault phase. */
  dropPercent: number;
  /** Percent of messages delivered twice. */
  dupPercent: number;
  faults: Fault[];
}

export interface SimOptions {
  /** Length of the fault phase in virtual ms; faults at or after it are ignored. */
  faultPhaseMs?: number;
  /** After the faults, the cluster must converge within this many virtual ms. */
  livenessBoundMs?: number;
  tickMs?: number;
  trace?: boolean;
}

export interface SimResult {
  ok: boolean;
  violation?: string;
  stats: {
    proposed: number;
    acked: number;
    reads: number;
    readsChecked: number;
    leaderChanges: number;
    crashes: number;
    snapshotsSent: number;
    snapshotsInstalled: number;
    confChanges: number;
    messages: number;
    dropped: number;
    convergedAtMs: number;
    endMs: number;
  };
  trace: string[];
}

interface Disk {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

interface PendingProposal {
  index: number;
  term: number;
  value: number;
}

interface PendingRead {
  ctx: number;
  /** How many acknowledged writes existed when the read began: all must be visible. */
  ackedBefore: number;
  index: number;
}

class SimNode {
  raft: Raft | null = null;
  incarnation = 0;
  disk: Disk = { hardState: { term: 0, vote: NONE, commit: 0 }, snapshot: null, entries: [] };
  values: number[] = [];
  valueSet = new Set<number>();
  readyScheduled = false;
  pausedUntil = 0;
  /** Messages that arrived while paused, delivered on resume. */
  held: Message[] = [];
  proposals = new Map<number, PendingProposal>();
  reads = new Map<number, PendingRead>();
  waitingReads: PendingRead[] = [];
  lastRole = 'follower';
  constructor(
    readonly id: NodeId,
    /** The configuration it starts from without a snapshot: the first members', or none for a joiner. */
    readonly bootConf: ConfState,
  ) {}
}

type SimEvent =
  | { kind: 'deliver'; msg: Message }
  | { kind: 'tick'; node: NodeId; inc: number }
  | { kind: 'ready'; node: NodeId; inc: number }
  | { kind: 'client' }
  | { kind: 'fault'; fault: Fault }
  | { kind: 'resume'; node: NodeId }
  | { kind: 'snap-failed'; from: NodeId; to: NodeId; inc: number };

const ELECTION_TICKS = 10;
const HEARTBEAT_TICKS = 2;
const SNAPSHOT_EVERY = 25;

export class Simulation {
  private readonly rand: Random;
  private readonly nodes = new Map<NodeId, SimNode>();
  /** Every node ever created, members or not: ids are never reused. */
  private readonly ids: NodeId[];
  private readonly heap = new EventHeap<SimEvent>();
  private readonly checker = new SafetyChecker();
  private readonly blocked = new Set<string>();
  private now = 0;
  private dropPercent: number;
  private dupPercent: number;
  private nextValue = 1;
  private nextCtx = 1;
  private readonly acked: number[] = [];
  private readonly faultPhaseMs: number;
  private readonly livenessBoundMs: number;
  private readonly tickMs: number;
  private readonly traceOn: boolean;
  private readonly traceLines: string[] = [];
  private faultsOver = false;
  private readonly stats: SimResult['stats'] = {
    proposed: 0,
    acked: 0,
    reads: 0,
    readsChecked: 0,
    leaderChanges: 0,
    crashes: 0,
    snapshotsSent: 0,
    snapshotsInstalled: 0,
    confChanges: 0,
    messages: 0,
    dropped: 0,
    convergedAtMs: -1,
    endMs: 0,
  };

  constructor(
    private readonly schedule: Schedule,
    opts: SimOptions = {},
  ) {
    this.rand = new Random(schedule.seed);
    this.dropPercent = schedule.dropPercent;
    this.dupPercent = schedule.dupPercent;
    this.faultPhaseMs = opts.faultPhaseMs ?? 3000;
    this.livenessBoundMs = opts.livenessBoundMs ?? 6000;
    this.tickMs = opts.tickMs ?? 10;
    this.traceOn = opts.trace ?? false;
    this.ids = Array.from({ length: schedule.nodes }, (_, k) => k + 1);
    for (const id of this.ids) this.nodes.set(id, new SimNode(id, { voters: [...this.ids], learners: [] }));
  }

  run(): SimResult {
    try {
      for (const id of this.ids) this.start(id);
      for (const f of this.schedule.faults) {
        if (f.at >= 0 && f.at < this.faultPhaseMs) this.heap.push(f.at, { kind: 'fault', fault: f });
      }
      this.heap.push(1, { kind: 'client' });
      this.loop(this.faultPhaseMs);
      this.endFaults();
      const deadline = this.faultPhaseMs + this.livenessBoundMs;
      while (this.now < deadline) {
        this.loop(Math.min(deadline, this.now + 50));
        if (this.converged()) {
          this.stats.convergedAtMs = this.now;
          break;
        }
      }
      this.stats.endMs = this.now;
      if (this.stats.convergedAtMs < 0) {
        throw new Violation('Liveness', `no convergence within ${this.livenessBoundMs} ms after the faults stopped: ${this.describe()}`);
      }
      return { ok: true, stats: this.stats, trace: this.traceLines };
    } catch (err) {
      if (!(err instanceof Violation) && !(err instanceof Error)) throw err;
      this.stats.endMs = this.now;
      const msg = err instanceof Violation ? err.message : `exception: ${(err as Error).stack}`;
      this.trace(`VIOLATION ${msg}`);
      return { ok: false, violation: `at ${this.now} ms: ${msg}`, stats: this.stats, trace: this.traceLines };
    }
  }

  // ---- the event loop ------------------------------------------------------------------------

  private loop(until: number): void {
    while (this.heap.peekTime() <= until) {
      const ev = this.heap.pop()!;
      this.now = ev.at;
      this.handle(ev.value);
    }
    this.now = until;
  }

  private handle(ev: SimEvent): void {
    switch (ev.kind) {
      case 'deliver':
        return this.deliver(ev.msg);
      case 'tick': {
        const n = this.nodes.get(ev.node)!;
        if (!n.raft || n.incarnation !== ev.inc) return;
        this.heap.push(this.now + this.tickMs, ev);
        if (this.now < n.pausedUntil) return;
        n.raft.tick();
        return this.scheduleReady(n);
      }
      case 'ready': {
        const n = this.nodes.get(ev.node)!;
        if (!n.raft || n.incarnation !== ev.inc) return;
        n.readyScheduled = false;
        if (this.now < n.pausedUntil) return this.scheduleReady(n, n.pausedUntil - this.now);
        return this.processReady(n);
      }
      case 'client':
        if (!this.faultsOver) {
          this.clientOp();
          this.heap.push(this.now + this.rand.int(2, 15), ev);
        }
        return;
      case 'fault':
        return this.applyFault(ev.fault);
      case 'snap-failed': {
        const n = this.nodes.get(ev.from)!;
        if (!n.raft || n.incarnation !== ev.inc) return;
        n.raft.reportSnapshot(ev.to, false);
        return this.scheduleReady(n);
      }
      case 'resume': {
        const n = this.nodes.get(ev.node)!;
        const held = n.held;
        n.held = [];
        for (const m of held) this.deliver(m);
        return;
      }
    }
  }

  private start(id: NodeId): void {
    const n = this.nodes.get(id)!;
    n.incarnation++;
    const d = n.disk;
    n.raft = new Raft({
      id,
      conf: n.bootConf,
      persisted: { hardState: { ...d.hardState }, snapshot: d.snapshot, entries: d.entries.slice() },
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: HEARTBEAT_TICKS,
      seed: this.schedule.seed * 31 + id * 1009 + n.incarnation,
      // Small messages and windows make the rare interleavings (Figure 8) common.
      fastStart: this.schedule.seed % 3 === 0,
      maxMsgEntries: 1 + (this.schedule.seed % 4),
      maxInflight: 1 + (this.schedule.seed % 5),
    });
    // The application restarts from its snapshot and re-applies committed entries from the log.
    n.values = d.snapshot ? decodeValues(d.snapshot.data) : [];
    n.valueSet = new Set(n.values);
    if (d.snapshot) this.checker.onSnapshotRestore(id, d.snapshot.meta.index, n.values);
    n.proposals.clear();
    n.reads.clear();
    n.waitingReads = [];
    n.lastRole = 'follower';
    n.readyScheduled = false;
    this.heap.push(this.now + this.rand.int(1, this.tickMs + 1), { kind: 'tick', node: id, inc: n.incarnation });
    this.trace(`start ${id} (incarnation ${n.incarnation}, term ${d.hardState.term}, ${d.entries.length} entries)`);
  }

  private crash(id: NodeId): void {
    const n = this.nodes.get(id)!;
    if (!n.raft) return;
    // Whatever the node had not persisted (an unprocessed Ready) is lost with it.
    n.raft = null;
    n.incarnation++;
    n.held = [];
    n.pausedUntil = 0;
    this.stats.crashes++;
    this.trace(`crash ${id}`);
  }

  private scheduleReady(n: SimNode, delay?: number): void {
    if (n.readyScheduled || !n.raft) return;
    n.readyScheduled = true;
    // Persistence takes a little while: a crash in between loses the Ready.
    this.heap.push(this.now + (delay ?? this.rand.int(0, 3)), { kind: 'ready', node: n.id, inc: n.incarnation });
  }

  private processReady(n: SimNode): void {
    const r = n.raft!;
    let rounds = 0;
    while (r.hasReady()) {
      if (++rounds > 1000) throw new Error(`node ${n.id}: Ready loop does not settle`);
      const rd = r.ready();
      const prevCommit = n.disk.hardState.commit;
      // 1. persist (atomically)
      this.checker.onPersist(n.id, r, rd.entries);
      if (rd.snapshot) {
        n.disk.snapshot = rd.snapshot;
        n.disk.entries = [];
      }
      if (rd.entries.length > 0) {
        const first = rd.entries[0].index;
        const ents = n.disk.entries;
        const keep = ents.length === 0 ? 0 : Math.max(0, Math.min(ents.length, first - ents[0].index));
        n.disk.entries = ents.slice(0, keep).concat(rd.entries);
      }
      if (rd.hardState) {
        const old = n.disk.hardState;
        const h = rd.hardState;
        if (h.term < old.term) throw new Violation('Durability', `node ${n.id} persisted term ${h.term} after ${old.term}`);
        if (h.term === old.term && old.vote !== NONE && h.vote !== old.vote) {
          throw new Violation('Durability', `node ${n.id} changed its vote in term ${h.term} from ${old.vote} to ${h.vote}`);
        }
        if (h.commit < old.commit) throw new Violation('Durability', `node ${n.id} persisted commit ${h.commit} after ${old.commit}`);
        n.disk.hardState = { ...h };
        if (h.commit > prevCommit) this.checker.onCommit(n.id, r, prevCommit + 1, h.commit);
      }
      if (rd.softState) {
        if (rd.softState.role === 'leader' && n.lastRole !== 'leader') {
          this.stats.leaderChanges++;
          this.checker.onLeader(n.id, r.term, r);
          this.trace(`leader ${n.id} term ${r.term}`);
        }
        if (rd.softState.role !== 'leader' && n.lastRole === 'leader') this.abandonProposals(n);
        n.lastRole = rd.softState.role;
      }
      // 2. send
      for (const m of rd.messages) this.send(m);
      // 3. apply
      if (rd.snapshot) {
        n.values = decodeValues(rd.snapshot.data);
        n.valueSet = new Set(n.values);
        this.checker.onSnapshotRestore(n.id, rd.snapshot.meta.index, n.values);
        this.stats.snapshotsInstalled++;
        this.trace(`node ${n.id} installed snapshot at ${rd.snapshot.meta.index}`);
      }
      for (const e of rd.committedEntries) this.apply(n, e);
      for (const rs of rd.readStates) {
        const pr = n.reads.get(rs.ctx);
        if (!pr) continue;
        n.reads.delete(rs.ctx);
        pr.index = rs.index;
        n.waitingReads.push(pr);
      }
      r.advance(rd);
      this.serveReads(n);
      this.maybeSnapshot(n);
    }
  }

  private apply(n: SimNode, e: Entry): void {
    this.checker.onApply(n.id, e);
    const v = valueOf(e);
    if (v > 0) {
      n.values.push(v);
      n.valueSet.add(v);
    }
    const p = n.proposals.get(e.index);
    if (p) {
      n.proposals.delete(e.index);
      if (p.term === e.term) {
        if (v !== p.value) throw new Violation('Acknowledgement', `node ${n.id} proposal ${p.value} at ${e.index} applied as ${v}`);
        this.acked.push(v);
        this.stats.acked++;
      }
    }
  }

  private serveReads(n: SimNode): void {
    const applied = n.raft!.log.applied;
    const still: PendingRead[] = [];
    for (const rd of n.waitingReads) {
      if (applied < rd.index) {
        still.push(rd);
        continue;
      }
      // Linearizable read: every write acknowledged before the read began must be visible.
      for (let k = 0; k < rd.ackedBefore; k++) {
        if (!n.valueSet.has(this.acked[k])) {
          throw new Violation('Linearizable read', `node ${n.id} served read ${rd.ctx} at index ${rd.index} without acknowledged write ${this.acked[k]}`);
        }
      }
      this.stats.readsChecked++;
    }
    n.waitingReads = still;
  }

  private maybeSnapshot(n: SimNode): void {
    const r = n.raft!;
    const last = n.disk.snapshot ? n.disk.snapshot.meta.index : 0;
    if (r.log.applied - last < SNAPSHOT_EVERY) return;
    const keep = this.rand.int(0, 8);
    const res = r.createSnapshot(r.log.applied, encodeValues(n.values), keep);
    if (!res) return;
    n.disk.snapshot = res.snapshot;
    n.disk.entries = n.disk.entries.filter((e) => e.index > res.compactedTo);
  }

  private abandonProposals(n: SimNode): void {
    // Outcome unknown: they may still commit under the next leader. They are never counted acked.
    n.proposals.clear();
  }

  // ---- the network ---------------------------------------------------------------------------

  private send(m: Message): void {
    this.stats.messages++;
    if (m.type === 'snap') this.stats.snapshotsSent++;
    const link = `${m.from}>${m.to}`;
    const dropped = this.blocked.has(link) || this.rand.int(0, 100) < this.dropPercent;
    if (dropped) {
      this.stats.dropped++;
      if (m.type === 'snap') this.reportSnapshotFailure(m.from, m.to);
      return;
    }
    this.heap.push(this.now + this.rand.int(1, 12), { kind: 'deliver', msg: m });
    if (this.rand.int(0, 100) < this.dupPercent) this.heap.push(this.now + this.rand.int(1, 25), { kind: 'deliver', msg: m });
  }

  /** The transport tells the sender that a snapshot did not arrive (after its Ready is done). */
  private reportSnapshotFailure(from: NodeId, to: NodeId): void {
    const s = this.nodes.get(from)!;
    if (s.raft) this.heap.push(this.now, { kind: 'snap-failed', from, to, inc: s.incarnation });
  }

  private deliver(m: Message): void {
    const n = this.nodes.get(m.to)!;
    if (!n.raft) {
      if (m.type === 'snap') this.reportSnapshotFailure(m.from, m.to);
      return;
    }
    if (this.now < n.pausedUntil) {
      n.held.push(m);
      return;
    }
    n.raft.step(m);
    this.scheduleReady(n);
  }

  // ---- clients and faults --------------------------------------------------------------------

  private liveNodes(): SimNode[] {
    return this.ids.map((id) => this.nodes.get(id)!).filter((n) => n.raft && this.now >= n.pausedUntil);
  }

  private clientOp(): void {
    const live = this.liveNodes();
    if (live.length === 0) return;
    // Most clients have found a leader; some talk to whichever node they reach.
    const leaders = live.filter((x) => x.raft!.role === 'leader');
    const n = leaders.length > 0 && this.rand.next() < 0.7 ? leaders[this.rand.int(0, leaders.length)] : live[this.rand.int(0, live.length)];
    const r = n.raft!;
    if (this.rand.next() < 0.65) {
      const v = this.nextValue++;
      const res = r.propose(encodeValue(v));
      if (res.ok) {
        this.stats.proposed++;
        n.proposals.set(res.index, { index: res.index, term: res.term, value: v });
      }
    } else {
      const ctx = this.nextCtx++;
      if (r.readIndex(ctx)) {
        this.stats.reads++;
        n.reads.set(ctx, { ctx, ackedBefore: this.acked.length, index: -1 });
      }
    }
    this.scheduleReady(n);
  }

  private pick(k: number): NodeId {
    return this.ids[((k % this.ids.length) + this.ids.length) % this.ids.length];
  }

  private applyFault(f: Fault): void {
    const a = this.pick(f.a);
    const b = this.pick(f.b);
    this.trace(`fault ${f.kind} a=${a} b=${b}`);
    switch (f.kind) {
      case 'crash': {
        this.crash(a);
        break;
      }
      case 'crash-leader': {
        const leader = this.ids.find((id) => this.nodes.get(id)!.raft?.role === 'leader');
        if (leader !== undefined) this.crash(leader);
        break;
      }
      case 'restart':
        if (!this.nodes.get(a)!.raft) this.start(a);
        break;
      case 'partition': {
        // A random bipartition, symmetric.
        const side = new Set(this.ids.filter((_, k) => (f.b >> k) & 1));
        for (const x of this.ids) for (const y of this.ids) if (side.has(x) !== side.has(y)) this.blocked.add(`${x}>${y}`);
        break;
      }
      case 'oneway':
        if (a !== b) this.blocked.add(`${a}>${b}`);
        break;
      case 'isolate':
        for (const x of this.ids) {
          if (x === a) continue;
          this.blocked.add(`${a}>${x}`);
          this.blocked.add(`${x}>${a}`);
        }
        break;
      case 'heal':
        this.blocked.clear();
        break;
      case 'pause': {
        const n = this.nodes.get(a)!;
        if (!n.raft) break;
        n.pausedUntil = this.now + 50 + (Math.abs(f.b) % 400);
        this.heap.push(n.pausedUntil, { kind: 'resume', node: a });
        break;
      }
      case 'forget-leader': {
        // A connection-closed hint, right or wrong: it must never cost safety.
        const n = this.nodes.get(a)!;
        if (n.raft) {
          n.raft.forgetLeader();
          this.scheduleReady(n);
        }
        break;
      }
      case 'add-learner':
      case 'promote':
      case 'remove':
        this.changeMembership(f.kind, f.a);
        break;
      case 'transfer': {
        const n = this.ids.map((id) => this.nodes.get(id)!).find((x) => x.raft?.role === 'leader');
        if (n && n.raft) {
          n.raft.transferLeader(a === n.id ? b : a);
          this.scheduleReady(n);
        }
        break;
      }
    }
  }

  private changeMembership(kind: 'add-learner' | 'promote' | 'remove', k: number): void {
    const leader = this.ids.map((id) => this.nodes.get(id)!).find((x) => x.raft?.role === 'leader' && this.now >= x.pausedUntil);
    if (!leader) return;
    const r = leader.raft!;
    const conf = r.conf;
    let id: NodeId;
    if (kind === 'add-learner') {
      // At most 7 members; a new node has a new id and an empty disk.
      if (conf.voters.length + conf.learners.length >= 7) return;
      id = this.ids.length + 1;
    } else {
      const pool = kind === 'promote' ? conf.learners : [...conf.voters, ...conf.learners];
      if (pool.length === 0) return;
      id = pool[((k % pool.length) + pool.length) % pool.length];
    }
    const res = r.proposeConfChange({ type: kind, id });
    this.trace(`${kind} ${id} by leader ${leader.id}: ${res.ok ? `index ${res.index}` : `refused (${res.reason}${res.detail ? `: ${res.detail}` : ''})`}`);
    if (!res.ok) return;
    this.stats.confChanges++;
    if (kind === 'add-learner') {
      this.ids.push(id);
      this.nodes.set(id, new SimNode(id, { voters: [], learners: [] }));
      this.start(id);
    }
    this.scheduleReady(leader);
  }

  private endFaults(): void {
    this.faultsOver = true;
    this.blocked.clear();
    this.dropPercent = 0;
    this.dupPercent = 0;
    for (const id of this.ids) {
      const n = this.nodes.get(id)!;
      if (!n.raft) this.start(id);
    }
    this.trace('faults over: healed, all restarted');
  }

  /** A leader that committed in its term, and every node caught up with it and with every ack. */
  private converged(): boolean {
    const leaders = this.ids.map((id) => this.nodes.get(id)!).filter((n) => n.raft?.role === 'leader' && this.now >= n.pausedUntil);
    if (leaders.length !== 1) return false;
    const l = leaders[0].raft!;
    if (l.log.term(l.log.committed) !== l.term || l.log.committed !== l.log.lastIndex()) return false;
    // Removed nodes may never hear that they were removed: only members must catch up.
    for (const id of [...l.conf.voters, ...l.conf.learners]) {
      const n = this.nodes.get(id)!;
      const r = n.raft;
      if (!r || r.log.applied !== l.log.committed || r.term !== l.term) return false;
      for (const v of this.acked) if (!n.valueSet.has(v)) return false;
    }
    return true;
  }

  private describe(): string {
    return this.ids
      .map((id) => {
        const r = this.nodes.get(id)!.raft;
        if (!r) return `${id}:down`;
        const s = r.status();
        return `${id}:${s.role} t${s.term} lead ${s.lead} commit ${s.commit} applied ${s.applied} last ${s.lastIndex}`;
      })
      .join('; ');
  }

  private trace(line: string): void {
    if (this.traceOn) this.traceLines.push(`${String(this.now).padStart(6)} ${line}`);
  }
}

export function encodeValues(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 4);
  const dv = new DataView(b.buffer);
  values.forEach((v, k) => dv.setUint32(k * 4, v));
  return b;
}

export function decodeValues(b: Uint8Array): number[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let k = 0; k + 4 <= b.byteLength; k += 4) out.push(dv.getUint32(k));
  return out;
}

export function simulate(schedule: Schedule, opts?: SimOptions): SimResult {
  return new Simulation(schedule, opts).run();
}
