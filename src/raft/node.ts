// The Raft driver: it owns the core, the disk and the transport, and turns the core's Readys into
// I/O. One "turn" steps every queued input into the core, then carries out Readys until none is
// left: persist (one synced batch) -> send -> apply -> advance. Inputs that arrive while a turn waits
// on the disk join the next turn, so many proposals share one fsync and one message per peer
// (group commit).
import { Raft, type Status } from './core/raft.js';
import { SNAPSHOT_DATA_ON_DISK, type RaftStorage } from './storage.js';
import type { HttpTransport } from './transport.js';
import { decodeConfChange, type ConfChange, type ConfChangeRecord } from './core/conf-change.js';
import { EntryType, NONE, type ConfState, type Entry, type Message, type NodeId, type Role } from './core/types.js';

/** The replicated application: deterministic, fed committed entries in log order. */
export interface StateMachine {
  apply(entry: Entry): unknown;
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
}

/** This node does not lead; `leader` is who does, if known. Safe to retry elsewhere. */
export class NotLeaderError extends Error {
  constructor(readonly leader: NodeId) {
    super(leader === NONE ? 'no leader is known (election in progress or no quorum)' : `not the leader; node ${leader} leads`);
  }
}

/**
 * This node stopped after a fatal error (its disk failed, or its state machine threw): it takes no
 * more requests. Nothing new was accepted, so a retry on another manager is safe.
 */
export class NodeStoppedError extends NotLeaderError {
  constructor(readonly fatal: Error) {
    super(NONE);
    // Not the error itself (it names paths on the manager's disk): its log has that.
    this.message = 'this manager stopped after a fatal error (see its log); another manager serves';
  }
}

/** The write may or may not have been committed: retry with the same idempotency key. */
export class OutcomeUnknownError extends Error {}

/** The write was definitely not committed (its log position went to another entry). */
export class NotCommittedError extends Error {}

/** A membership change was refused: another is still in flight, or the change makes no sense. */
export class ConfChangeError extends Error {
  constructor(
    readonly reason: 'conf-change-pending' | 'bad-conf-change',
    detail: string,
  ) {
    super(detail);
  }
}

export interface RaftNodeOptions {
  id: NodeId;
  conf: ConfState;
  /** `conf` wins over the persisted snapshot's (--force-new-cluster); a snapshot records it soon. */
  forceConf?: boolean;
  storage: RaftStorage;
  sm: StateMachine;
  heartbeatMs: number;
  electionMs: number;
  /** Snapshot and compact every this many applied entries. */
  snapshotEvery: number;
  /** Entries kept before a snapshot for followers a little behind. */
  keepEntries: number;
  /**
   * Also snapshot once the entries applied since the last snapshot hold this many bytes, or as many
   * as the last snapshot if that is more: the log a restart replays (and that the node holds in
   * memory) stays about as big as the state itself, however few and large the entries are.
   * Default 8 MiB.
   */
  snapshotBytes?: number;
  /** At most this many bytes of entries are kept before a snapshot (besides keepEntries). Default 4 MiB. */
  keepBytes?: number;
  proposalTimeoutMs?: number;
  readTimeoutMs?: number;
  onRoleChange?: (role: Role, term: number, leader: NodeId) => void;
  /**
   * Told the term when this node becomes the ready leader (isReadyLeader()), and null when it stops
   * being one, at the end of the turn that changed it: the manager starts and stops its leader
   * duties on it instead of each duty polling.
   */
  onReadyLeader?: (term: number | null) => void;
  /**
   * The node stopped for good: a disk write failed or the state machine threw. Its state may be
   * ahead of or behind its disk, so it must not serve or vote again in this process; the owner stops
   * serving and exits (fail-stop), and other managers take over. Called once.
   */
  onFatal?: (err: Error) => void;
  /** Timings for metrics, reported as they happen. */
  observe?: RaftObserver;
}

export interface RaftObserver {
  /** A proposal of this node committed and applied, this long after it was proposed. */
  commitMs(ms: number): void;
  /** One Ready written to disk (entries, hard state) and synced. */
  saveMs(ms: number): void;
  /** A snapshot was taken, of this size. */
  snapshotBytes(bytes: number): void;
  /** That snapshot is durable and its data has left memory (the node holds only its metadata). */
  snapshotSaved?(): void;
}

interface Waiter {
  term: number;
  /** performance.now() when proposed. */
  at: number;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface PendingProposal {
  data: Uint8Array;
  type: EntryType;
  /** A membership change instead of a command. */
  cc?: ConfChange;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface PendingRead {
  index: number;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class RaftNode {
  private core!: Raft;
  private transport!: HttpTransport;
  private inbox: Message[] = [];
  private ticks = 0;
  private proposals: PendingProposal[] = [];
  private reads: { ctx: number; pr: PendingRead }[] = [];
  private readonly waiting = new Map<number, Waiter>();
  /** Senders waiting for our answers on their request (see receiveAndReply). */
  private replySlots: { from: NodeId; msgs: Message[]; resolve: (m: Message[]) => void; armed: boolean }[] = [];
  private readonly readsByCtx = new Map<number, PendingRead>();
  private readonly readsWaitingApply: PendingRead[] = [];
  private unreachable = new Set<NodeId>();
  private closedPeers = new Set<NodeId>();
  private snapshotReports: { to: NodeId; ok: boolean }[] = [];
  private transferTo: NodeId | null = null;
  private nextCtx = 1;
  private turnScheduled = false;
  private inTurn = false;
  private ticker: NodeJS.Timeout | null = null;
  private stopped = false;
  private failure: Error | null = null;
  private lastSnapshotIndex = 0;
  /** Size of the last snapshot taken or restored, and the bytes of the entries applied since. */
  private lastSnapshotBytes = 0;
  private bytesSinceSnapshot = 0;
  /** Snapshot at the next chance, whatever snapshotEvery says. */
  private snapshotDue = false;
  private role: Role = 'follower';
  private leader: NodeId = NONE;
  /** The term onReadyLeader last reported (null: not the ready leader). */
  private readyTerm: number | null = null;
  private readonly leaderWaiters = new Set<{ resolve: (id: NodeId) => void; timer: NodeJS.Timeout }>();
  /** For metrics: counters and the commit latency samples of this node's own proposals. */
  readonly metrics = { proposalsCommitted: 0, proposalsFailed: 0, leaderChanges: 0, snapshotsTaken: 0, applied: 0, turns: 0, readys: 0, saveMs: 0, entriesSaved: 0, turnMs: 0 };

  constructor(private readonly opts: RaftNodeOptions) {}

  async start(transport: HttpTransport): Promise<void> {
    this.transport = transport;
    const loaded = await this.opts.storage.load();
    const electionTicks = Math.max(2, Math.round(this.opts.electionMs / this.opts.heartbeatMs));
    this.core = new Raft({
      id: this.opts.id,
      conf: this.opts.conf,
      ...(this.opts.forceConf ? { forceConf: this.opts.conf } : {}),
      persisted: loaded,
      electionTicks,
      heartbeatTicks: 1,
      // A booting cluster should not sit through whole election timeouts before its first leader.
      fastStart: true,
      seed: (Date.now() ^ (this.opts.id * 2654435761)) >>> 0,
    });
    transport.setSnapshotReader((index) => this.opts.storage.readSnapshotData(index));
    if (loaded.snapshot) {
      this.opts.sm.restore(loaded.snapshot.data);
      this.lastSnapshotIndex = loaded.snapshot.meta.index;
      this.lastSnapshotBytes = loaded.snapshot.data.byteLength;
      this.releaseSnapshotData(loaded.snapshot.meta.index);
      // The stored snapshot names the old voters: the next one, taken at once, names the new ones.
      if (this.opts.forceConf) this.snapshotDue = true;
    }
    this.ticker = setInterval(() => {
      this.ticks++;
      this.schedule();
    }, this.opts.heartbeatMs);
    this.schedule();
  }

  /** The core's view, for status pages. */
  status(): Status {
    const s = this.core.status();
    // A stopped node's core may still say "leader": status pages must not send anyone to it.
    return this.failure ? { ...s, role: 'follower', lead: NONE } : s;
  }

  get id(): NodeId {
    return this.opts.id;
  }

  /** The current term: what hot paths (worker heartbeats) need, without status()'s copies. */
  term(): number {
    return this.core.term;
  }

  /** The last request to this peer succeeded (no failure since): what "it answers" means at the edge. */
  peerAnswering(id: NodeId): boolean {
    return this.transport ? this.transport.peerFailures(id) === 0 : false;
  }

  transportStats(): unknown {
    return this.transport ? { ...this.transport.stats, queued: this.transport.queued() } : null;
  }

  /** Leader, and the first entry of its term has committed: its view of the state is complete. */
  isReadyLeader(): boolean {
    return this.role === 'leader' && this.core.isReadyLeader();
  }

  isLeader(): boolean {
    return this.role === 'leader';
  }

  leaderId(): NodeId {
    return this.leader;
  }

  /**
   * Resolves with the leader's id once one is known, or NONE after `ms`: a request arriving during an
   * election waits for its outcome instead of failing (Nomad and Consul hold RPCs the same way).
   */
  leaderKnown(ms: number): Promise<NodeId> {
    if (this.leader !== NONE || this.stopped || this.failure) return Promise.resolve(this.leader);
    return new Promise((resolve) => {
      const w = { resolve, timer: setTimeout(() => this.leaderWaiters.delete(w) && resolve(NONE), ms) };
      this.leaderWaiters.add(w);
    });
  }

  /** Inbound messages from the transport. */
  receive(msgs: Message[]): void {
    if (this.stopped || this.failure) return;
    for (const m of msgs) this.inbox.push(m);
    this.schedule();
  }

  /**
   * Inbound messages whose sender waits for the answers on the same HTTP exchange: the messages to
   * `from` that the next turn produces (after its fsync) are returned instead of being sent as a
   * request of their own. This halves the round trips of replication.
   */
  receiveAndReply(from: NodeId, msgs: Message[]): Promise<Message[]> {
    if (this.stopped || this.failure) return Promise.resolve([]);
    return new Promise((resolve) => {
      for (const m of msgs) this.inbox.push(m);
      this.replySlots.push({ from, msgs: [], resolve, armed: false });
      this.schedule();
    });
  }

  reportUnreachable(to: NodeId): void {
    this.unreachable.add(to);
    this.schedule();
  }

  /** A peer's connection to us closed; if it is the leader, it has probably died. */
  peerConnectionClosed(id: NodeId): void {
    this.closedPeers.add(id);
    this.schedule();
  }

  reportSnapshot(to: NodeId, ok: boolean): void {
    this.snapshotReports.push({ to, ok });
    this.schedule();
  }

  /**
   * Proposes a command. Resolves with the state machine's result once the entry is committed and
   * applied here. Rejects with NotLeaderError (safe to retry elsewhere), NotCommittedError (safe to
   * retry), or OutcomeUnknownError (retry with the same idempotency key).
   */
  propose(data: Uint8Array, type: EntryType = EntryType.Normal): Promise<unknown> {
    if (this.failure) return Promise.reject(new NodeStoppedError(this.failure));
    if (this.role !== 'leader') return Promise.reject(new NotLeaderError(this.leader));
    return new Promise((resolve, reject) => {
      this.proposals.push({ data, type, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Proposes a membership change. Resolves with the change and the configuration it led to once it is
   * committed and applied here; rejects with NotLeaderError, ConfChangeError, or OutcomeUnknownError.
   */
  proposeConfChange(cc: ConfChange): Promise<ConfChangeRecord> {
    if (this.failure) return Promise.reject(new NodeStoppedError(this.failure));
    if (this.role !== 'leader') return Promise.reject(new NotLeaderError(this.leader));
    return new Promise((resolve, reject) => {
      this.proposals.push({ data: new Uint8Array(0), type: EntryType.ConfChange, cc, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Resolves when a linearizable read may be served from the local state machine (ReadIndex). */
  readBarrier(): Promise<void> {
    if (this.failure) return Promise.reject(new NodeStoppedError(this.failure));
    if (this.leader === NONE) return Promise.reject(new NotLeaderError(NONE));
    return new Promise((resolve, reject) => {
      const ctx = this.nextCtx++;
      const pr: PendingRead = {
        index: -1,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.readsByCtx.delete(ctx);
          const k = this.readsWaitingApply.indexOf(pr);
          if (k >= 0) this.readsWaitingApply.splice(k, 1);
          reject(new NotLeaderError(this.leader));
        }, this.opts.readTimeoutMs ?? 3000),
      };
      this.reads.push({ ctx, pr });
      this.schedule();
    });
  }

  /** Asks the core to hand leadership to another voter (or the most caught-up one). */
  transferLeadership(to?: NodeId): boolean {
    if (this.role !== 'leader') return false;
    const st = this.core.status();
    let target = to;
    if (target === undefined) {
      let best = -1;
      for (const [id, p] of Object.entries(st.progress)) {
        const n = Number(id);
        if (n !== this.opts.id && st.conf.voters.includes(n) && p.match > best) {
          best = p.match;
          target = n;
        }
      }
    }
    if (target === undefined) return false;
    this.transferTo = target;
    this.schedule();
    return true;
  }

  private schedule(): void {
    if (this.turnScheduled || this.inTurn || this.stopped || this.failure) return;
    this.turnScheduled = true;
    setImmediate(() => void this.turn());
  }

  private inboxFrom(msgs: Message[], id: NodeId): boolean {
    return msgs.some((m) => m.from === id);
  }

  private hasInput(): boolean {
    return this.closedPeers.size > 0 || this.inbox.length > 0 || this.ticks > 0 || this.proposals.length > 0 || this.reads.length > 0 || this.unreachable.size > 0 || this.snapshotReports.length > 0 || this.transferTo !== null;
  }

  private async turn(): Promise<void> {
    this.turnScheduled = false;
    if (this.stopped || this.failure) return;
    this.inTurn = true;
    // Slots whose messages this turn steps are answered at its end; later ones wait for the next.
    for (const slot of this.replySlots) slot.armed = true;
    const t0 = performance.now();
    this.metrics.turns++;
    try {
      this.feed();
      while (!this.stopped && this.core.hasReady()) await this.handleReady();
    } catch (err) {
      // A failed disk write or an impossible state: stop participating rather than risk safety.
      this.fail(err as Error);
    } finally {
      this.inTurn = false;
      this.metrics.turnMs += performance.now() - t0;
      this.answerSlots();
    }
    this.reportReadiness();
    if (this.hasInput()) this.schedule();
  }

  private reportReadiness(): void {
    const term = this.core && this.isReadyLeader() ? this.core.term : null;
    if (term === this.readyTerm) return;
    this.readyTerm = term;
    this.opts.onReadyLeader?.(term);
  }

  private feed(): void {
    const c = this.core;
    const inbox = this.inbox;
    this.inbox = [];
    for (const m of inbox) c.step(m);
    for (const to of this.unreachable) c.reportUnreachable(to);
    this.unreachable.clear();
    for (const id of this.closedPeers) if (c.lead === id && !this.inboxFrom(inbox, id)) c.forgetLeader();
    this.closedPeers.clear();
    for (const r of this.snapshotReports) c.reportSnapshot(r.to, r.ok);
    this.snapshotReports = [];
    for (; this.ticks > 0; this.ticks--) c.tick();
    if (this.transferTo !== null) {
      c.transferLeader(this.transferTo);
      this.transferTo = null;
    }
    const props = this.proposals;
    this.proposals = [];
    for (const p of props) {
      const res = p.cc ? c.proposeConfChange(p.cc) : c.propose(p.data, p.type);
      if (!res.ok) {
        this.metrics.proposalsFailed++;
        if (res.reason === 'conf-change-pending' || res.reason === 'bad-conf-change') p.reject(new ConfChangeError(res.reason, res.detail ?? res.reason));
        else p.reject(res.reason === 'not-leader' ? new NotLeaderError(res.lead) : new NotLeaderError(NONE));
        continue;
      }
      const timer = setTimeout(() => {
        if (this.waiting.get(res.index)?.timer === timer) {
          this.waiting.delete(res.index);
          this.metrics.proposalsFailed++;
          p.reject(new OutcomeUnknownError('the write was not committed in time; its outcome is unknown'));
        }
      }, this.opts.proposalTimeoutMs ?? 5000);
      this.waiting.set(res.index, { term: res.term, at: performance.now(), resolve: p.resolve, reject: p.reject, timer });
    }
    const reads = this.reads;
    this.reads = [];
    for (const { ctx, pr } of reads) {
      if (c.readIndex(ctx)) this.readsByCtx.set(ctx, pr);
      else {
        clearTimeout(pr.timer);
        pr.reject(new NotLeaderError(c.lead));
      }
    }
  }

  private async handleReady(): Promise<void> {
    const c = this.core;
    const rd = c.ready();
    // A leader's appends and heartbeats may leave before its own write completes (Raft thesis
    // §10.2.1): the leader counts an ack only in a later turn, after this write is durable, so the
    // two disks work in parallel without weakening what an acknowledgement means.
    let early: Message[] = [];
    let rest = rd.messages;
    if (c.role === 'leader' && rd.messages.length > 0) {
      early = rd.messages.filter((m) => m.type === 'app' || m.type === 'heartbeat');
      rest = rd.messages.filter((m) => m.type !== 'app' && m.type !== 'heartbeat');
      if (early.length > 0) this.transport.send(early);
    }
    // Committed entries that were already durable here (from earlier Readys) need not wait for this
    // Ready's write: apply them now, so a leader answers its clients without waiting for the fsync of
    // the next batch.
    let applied = 0;
    if (!rd.snapshot) {
      const stable = c.stableIndex();
      while (applied < rd.committedEntries.length && rd.committedEntries[applied].index <= stable) this.apply(rd.committedEntries[applied++]);
    }
    // 1. Durable before anything else leaves this node.
    const t0 = performance.now();
    await this.opts.storage.save(rd);
    this.metrics.readys++;
    const saveMs = performance.now() - t0;
    this.metrics.saveMs += saveMs;
    this.opts.observe?.saveMs(saveMs);
    this.metrics.entriesSaved += rd.entries.length;
    // 2. Send: answers to a waiting sender ride back on its request.
    if (rest.length) this.transport.send(this.takeReplies(rest));
    // 3. Apply.
    if (rd.snapshot) {
      this.opts.sm.restore(rd.snapshot.data);
      this.lastSnapshotIndex = rd.snapshot.meta.index;
      this.lastSnapshotBytes = rd.snapshot.data.byteLength;
      this.bytesSinceSnapshot = 0;
    }
    for (let k = applied; k < rd.committedEntries.length; k++) this.apply(rd.committedEntries[k]);
    for (const rs of rd.readStates) {
      const pr = this.readsByCtx.get(rs.ctx);
      if (!pr) continue;
      this.readsByCtx.delete(rs.ctx);
      pr.index = rs.index;
      this.readsWaitingApply.push(pr);
    }
    if (rd.softState) this.onSoftState(rd.softState.role, rd.softState.lead);
    c.advance(rd);
    if (rd.snapshot) this.releaseSnapshotData(rd.snapshot.meta.index);
    this.serveReads();
    await this.maybeSnapshot();
  }

  private takeReplies(msgs: Message[]): Message[] {
    if (this.replySlots.length === 0) return msgs;
    const rest: Message[] = [];
    for (const m of msgs) {
      const slot = m.type === 'snap' ? undefined : this.replySlots.find((x) => x.armed && x.from === m.to);
      if (slot) slot.msgs.push(m);
      else rest.push(m);
    }
    return rest;
  }

  private answerSlots(): void {
    const keep: typeof this.replySlots = [];
    for (const slot of this.replySlots) {
      if (slot.armed || this.stopped || this.failure) slot.resolve(slot.msgs);
      else keep.push(slot);
    }
    this.replySlots = keep;
  }

  private apply(e: Entry): void {
    // Membership changes are the core's; the application reads the configuration from status().
    const result = e.type === EntryType.ConfChange ? decodeConfChange(e.data) : e.data.length > 0 ? this.applyToStateMachine(e) : undefined;
    this.metrics.applied = e.index;
    this.bytesSinceSnapshot += e.data.length;
    const w = this.waiting.get(e.index);
    if (!w) return;
    this.waiting.delete(e.index);
    clearTimeout(w.timer);
    if (w.term === e.term) {
      this.metrics.proposalsCommitted++;
      this.opts.observe?.commitMs(performance.now() - w.at);
      w.resolve(result);
    } else {
      this.metrics.proposalsFailed++;
      w.reject(new NotCommittedError('the write lost its place in the log to another leader\'s entry'));
    }
  }

  /** The state machine is deterministic: an entry it cannot apply is a fatal error, not a reply. */
  private applyToStateMachine(e: Entry): unknown {
    try {
      return this.opts.sm.apply(e);
    } catch (err) {
      throw new Error(`the state machine failed to apply entry ${e.index} (term ${e.term}): ${(err as Error).message}`, { cause: err });
    }
  }

  private serveReads(): void {
    const applied = this.core.appliedIndex();
    for (let k = this.readsWaitingApply.length - 1; k >= 0; k--) {
      const pr = this.readsWaitingApply[k];
      if (pr.index <= applied) {
        this.readsWaitingApply.splice(k, 1);
        clearTimeout(pr.timer);
        pr.resolve();
      }
    }
  }

  private onSoftState(role: Role, lead: NodeId): void {
    const wasLeader = this.role === 'leader';
    if (lead !== this.leader && lead !== NONE) this.metrics.leaderChanges++;
    this.role = role;
    this.leader = lead;
    if (lead !== NONE) {
      for (const w of this.leaderWaiters) {
        clearTimeout(w.timer);
        w.resolve(lead);
      }
      this.leaderWaiters.clear();
    }
    if (wasLeader && role !== 'leader') {
      // Proposals in flight may still commit under the next leader: their outcome is unknown.
      for (const [index, w] of this.waiting) {
        clearTimeout(w.timer);
        this.metrics.proposalsFailed++;
        w.reject(new OutcomeUnknownError('leadership was lost before the write committed; its outcome is unknown'));
        this.waiting.delete(index);
      }
    }
    if (role !== 'leader' && role !== 'follower') {
      for (const [ctx, pr] of this.readsByCtx) {
        clearTimeout(pr.timer);
        pr.reject(new NotLeaderError(NONE));
        this.readsByCtx.delete(ctx);
      }
    }
    this.opts.onRoleChange?.(role, this.core.term, lead);
  }

  private async maybeSnapshot(): Promise<void> {
    const applied = this.core.appliedIndex();
    if (applied <= this.lastSnapshotIndex) return;
    const due =
      this.snapshotDue ||
      applied - this.lastSnapshotIndex >= this.opts.snapshotEvery ||
      this.bytesSinceSnapshot >= Math.max(this.opts.snapshotBytes ?? 8 << 20, this.lastSnapshotBytes);
    if (!due) return;
    const keep = this.core.entriesToKeep(applied, this.opts.keepEntries, this.opts.keepBytes ?? 4 << 20);
    const res = this.core.createSnapshot(applied, this.opts.sm.snapshot(), keep);
    if (!res) return;
    this.snapshotDue = false;
    this.lastSnapshotIndex = applied;
    this.lastSnapshotBytes = res.snapshot.data.byteLength;
    this.bytesSinceSnapshot = 0;
    this.metrics.snapshotsTaken++;
    this.opts.observe?.snapshotBytes(res.snapshot.data.byteLength);
    await this.opts.storage.saveSnapshot(res.snapshot, res.compactedTo);
    this.releaseSnapshotData(res.snapshot.meta.index);
    this.opts.observe?.snapshotSaved?.();
  }

  /**
   * The core's snapshot at `index` is durable and the state machine holds it: its bytes (13 MB with
   * 100,000 tasks) leave memory, and the transport reads them back from disk for a follower that
   * needs them. Only while the core has nothing newer, and not a received one still to be applied.
   */
  private releaseSnapshotData(index: number): void {
    this.core.releaseSnapshotData(index, SNAPSHOT_DATA_ON_DISK);
  }

  /**
   * Fail-stop: after a failed write or a throwing apply, the core and the disk may disagree, and
   * the state machine may be half-applied. Nothing more is stepped, sent, applied or answered; what
   * waits is refused (a proposal whose entry was not applied here is not acknowledged: its outcome is
   * unknown, as it may still commit elsewhere), and the owner is told once (onFatal).
   */
  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    const why = 'this manager stopped after a fatal error (see its log)';
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      this.metrics.proposalsFailed++;
      w.reject(new OutcomeUnknownError(`${why}; the write's outcome is unknown`));
    }
    this.waiting.clear();
    // Never handed to the core: safe to retry elsewhere.
    for (const p of this.proposals) p.reject(new NodeStoppedError(err));
    this.proposals = [];
    for (const { pr } of this.reads) this.refuseRead(pr, err);
    this.reads = [];
    for (const pr of this.readsByCtx.values()) this.refuseRead(pr, err);
    this.readsByCtx.clear();
    for (const pr of this.readsWaitingApply) this.refuseRead(pr, err);
    this.readsWaitingApply.length = 0;
    this.inbox = [];
    // Neither leader nor follower of anyone from now on: nothing here may act as the leader.
    this.role = 'follower';
    this.leader = NONE;
    if (this.opts.onFatal) this.opts.onFatal(err);
    else console.error(`orch: raft node stopped: ${err.message}`);
  }

  private refuseRead(pr: PendingRead, err: Error): void {
    clearTimeout(pr.timer);
    pr.reject(new NodeStoppedError(err));
  }

  get failed(): Error | null {
    return this.failure;
  }

  /**
   * Stops the node. A turn that is writing may finish first, so the disk is never closed under it,
   * but for at most `waitMs`: a disk that hangs must not hang the shutdown with it. Resolves false
   * when that turn was still writing (the caller should then not close the storage).
   */
  async stop(waitMs = 5000): Promise<boolean> {
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    const deadline = performance.now() + waitMs;
    while (this.inTurn && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    this.answerSlots();
    for (const w of this.leaderWaiters) {
      clearTimeout(w.timer);
      w.resolve(NONE);
    }
    this.leaderWaiters.clear();
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new OutcomeUnknownError('the node is shutting down; the write\'s outcome is unknown'));
    }
    this.waiting.clear();
    for (const pr of this.readsByCtx.values()) {
      clearTimeout(pr.timer);
      pr.reject(new NotLeaderError(NONE));
    }
    this.readsByCtx.clear();
    return !this.inTurn;
  }
}
