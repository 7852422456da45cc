import { RaftLog } from './log.js';
import { Progress } from './progress.js';
import { committedIndex, copyConf, majority, validateConf, voteResult } from './quorum.js';
import { Random } from './random.js';
import { ReadIndex } from './read-index.js';
import { Outbox, ReadyTracker } from './ready.js';
import { decodeConfChange, encodeConfChange, nextConf, type ConfChange } from './conf-change.js';
import {
  EntryType,
  NONE,
  type AppMsg,
  type AppRespMsg,
  type ConfState,
  type Entry,
  type HardState,
  type HeartbeatMsg,
  type HeartbeatRespMsg,
  type Message,
  type NodeId,
  type ProposeResult,
  type Ready,
  type Role,
  type Snapshot,
  type SnapMsg,
  type VoteMsg,
  type VoteRespMsg,
} from './types.js';

/** What a node had made durable before it stopped: the input of a restart. */
export interface PersistedState {
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Contiguous entries; they may start before the snapshot's index (trailing entries kept). */
  entries: Entry[];
}

export interface RaftConfig {
  id: NodeId;
  /** The voter set of a new cluster. Ignored when `persisted` holds a snapshot (its conf wins). */
  conf?: ConfState;
  /**
   * A voter set that wins over the snapshot's and the log's: a survivor forced into a new cluster of
   * its own. As leader it appends the forced configuration to its log, so that it outlives restarts.
   */
  forceConf?: ConfState;
  persisted?: PersistedState;
  /** Ticks without hearing from a leader before a follower campaigns; randomized in [n, 2n). */
  electionTicks?: number;
  heartbeatTicks?: number;
  /** The election jitter's seed; different per node so that timeouts do not collide. */
  seed?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  maxMsgEntries?: number;
  maxMsgBytes?: number;
  maxInflight?: number;
  maxInflightBytes?: number;
  /** A leader refuses proposals past this much uncommitted data, so a lost quorum cannot grow the log forever. */
  maxUncommittedBytes?: number;
  /** At most this many committed entries are handed out per Ready. */
  maxApplyEntries?: number;
  /**
   * Until this node first hears from a leader, its election timeouts are short (2 ticks to half a
   * timeout), so a cluster that just booted, whose members come up one by one, elects a leader
   * quickly instead of waiting out full timeouts after early campaigns found nobody listening. Safe
   * with PreVote: an early campaign cannot disrupt a leader the others still hear.
   */
  fastStart?: boolean;
}

export interface ProgressStatus {
  match: number;
  next: number;
  state: string;
  recentActive: boolean;
}

export interface Status {
  id: NodeId;
  term: number;
  vote: NodeId;
  lead: NodeId;
  role: Role;
  commit: number;
  applied: number;
  lastIndex: number;
  firstIndex: number;
  conf: ConfState;
  /** The index of the entry that made `conf` (0: the bootstrap or a snapshot's); uncommitted while > commit. */
  confIndex: number;
  progress: Record<number, ProgressStatus>;
}

const EMPTY = new Uint8Array(0);

/**
 * The Raft consensus core: a deterministic state machine in the style of etcd's raft. It reads no
 * clock and does no I/O. The caller drives it with tick(), step(), propose() and readIndex(), then
 * collects a Ready, carries it out (persist, send, apply) and calls advance() (ready.ts).
 * This file is the protocol: elections, replication, commitment and membership; linearizable reads
 * are read-index.ts's. A driver reads the core through its methods only (status(), term, lead, role
 * and the small read methods below), never its log or progress directly.
 */
export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = 'follower';
  readonly log = new RaftLog();
  /**
   * The configuration in force: the newest one in the log, committed or not (dissertation §4.1), so
   * that a node never counts votes or commits with a configuration older than one it has seen.
   */
  conf: ConfState = { voters: [], learners: [] };
  readonly prs = new Map<NodeId, Progress>();
  /**
   * The configurations of the change entries in the log, oldest first. The first element is the base:
   * the snapshot's (or the bootstrap's) configuration at its index. A truncated log pops its changes.
   */
  private confLog: { index: number; conf: ConfState }[] = [];
  /** A forced configuration (--force-new-cluster) not yet written to the log by this node as leader. */
  private forcePending = false;

  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly maxMsgEntries: number;
  private readonly maxMsgBytes: number;
  private readonly maxInflight: number;
  private readonly maxInflightBytes: number;
  private readonly maxUncommittedBytes: number;
  private readonly rand: Random;

  private electionElapsed = 0;
  private fastStart: boolean;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private readonly votes = new Map<NodeId, boolean>();
  leadTransferee: NodeId = NONE;
  private uncommittedBytes = 0;
  /** Proposals were appended and not yet sent: sent together at the next ready() (group commit). */
  private appendPending = false;

  private readonly outbox = new Outbox();
  private readonly reads: ReadIndex;
  private readonly rd: ReadyTracker;

  constructor(cfg: RaftConfig) {
    if (!Number.isSafeInteger(cfg.id) || cfg.id <= 0) throw new Error(`raft: id must be a positive integer, got ${cfg.id}`);
    this.id = cfg.id;
    this.electionTicks = cfg.electionTicks ?? 10;
    this.heartbeatTicks = cfg.heartbeatTicks ?? 1;
    if (this.heartbeatTicks < 1 || this.electionTicks <= this.heartbeatTicks) {
      throw new Error(`raft: electionTicks (${this.electionTicks}) must exceed heartbeatTicks (${this.heartbeatTicks}) >= 1`);
    }
    this.preVote = cfg.preVote ?? true;
    this.checkQuorum = cfg.checkQuorum ?? true;
    this.maxMsgEntries = cfg.maxMsgEntries ?? 1024;
    this.maxMsgBytes = cfg.maxMsgBytes ?? 1 << 20;
    this.maxInflight = cfg.maxInflight ?? 64;
    this.maxInflightBytes = cfg.maxInflightBytes ?? 32 << 20;
    this.maxUncommittedBytes = cfg.maxUncommittedBytes ?? 64 << 20;
    this.rand = new Random(cfg.seed ?? cfg.id * 7919);
    this.reads = new ReadIndex(this.id, this.outbox);

    const p = cfg.persisted;
    let conf = cfg.conf;
    if (p) {
      this.restorePersisted(p);
      if (p.snapshot) conf = p.snapshot.meta.conf;
    }
    if (!conf) throw new Error('raft: a configuration (conf) is required when no snapshot is persisted');
    this.confLog = [{ index: this.log.snapshot?.meta.index ?? 0, conf: copyConf(conf) }];
    this.scanConfChanges(this.confLog[0].index + 1);
    if (cfg.forceConf) {
      this.confLog.push({ index: this.log.lastIndex(), conf: copyConf(cfg.forceConf) });
      this.forcePending = true;
    }
    this.applyConf(this.confLog[this.confLog.length - 1].conf);
    this.fastStart = cfg.fastStart ?? false;
    this.becomeFollower(this.term, NONE);
    this.rd = new ReadyTracker(this, this.outbox, cfg.maxApplyEntries ?? 4096);
  }

  private restorePersisted(p: PersistedState): void {
    this.log.load(p.entries, p.snapshot, p.hardState.commit);
    this.term = p.hardState.term;
    this.vote = p.hardState.vote;
  }

  // ---- inputs -------------------------------------------------------------------------------

  /** One unit of logical time. */
  tick(): void {
    this.assertDrivable();
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  /** Starts an election now (as a timeout would). */
  campaign(): void {
    this.assertDrivable();
    this.hup(false);
  }

  /** Appends a command to the log if this node leads. It is sent at the next ready(). */
  propose(data: Uint8Array, type: EntryType = EntryType.Normal): ProposeResult {
    this.assertDrivable();
    if (type !== EntryType.Normal) throw new Error('raft: configuration changes go through proposeConfChange()');
    if (this.role !== 'leader') return { ok: false, reason: 'not-leader', lead: this.lead };
    if (this.leadTransferee !== NONE) return { ok: false, reason: 'transferring', lead: this.lead };
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + data.length > this.maxUncommittedBytes) {
      return { ok: false, reason: 'too-many-uncommitted', lead: this.lead };
    }
    const e: Entry = { term: this.term, index: this.log.lastIndex() + 1, type, data };
    this.appendEntry(e);
    return { ok: true, index: e.index, term: e.term };
  }

  /**
   * Proposes one membership change. It takes effect on each node as soon as the node appends it (so
   * the leader counts the new configuration at once), and only one may be uncommitted at a time: two
   * single-server changes in flight could leave two majorities that do not overlap. A new leader must
   * also commit an entry of its own term first (the fix to the single-server bug Ongaro reported in
   * 2015), which its no-op provides.
   */
  proposeConfChange(cc: ConfChange): ProposeResult {
    this.assertDrivable();
    if (this.role !== 'leader') return { ok: false, reason: 'not-leader', lead: this.lead };
    if (this.leadTransferee !== NONE) return { ok: false, reason: 'transferring', lead: this.lead };
    const pending = this.lastConfIndex();
    if (pending > this.log.committed) {
      return { ok: false, reason: 'conf-change-pending', lead: this.lead, detail: `the change at index ${pending} is not committed yet` };
    }
    if (!this.committedInTerm()) {
      return { ok: false, reason: 'conf-change-pending', lead: this.lead, detail: 'this leader has not committed an entry of its term yet' };
    }
    if (this.forcePending) return { ok: false, reason: 'conf-change-pending', lead: this.lead, detail: 'the forced configuration is not in the log yet' };
    const next = nextConf(this.conf, cc);
    if ('error' in next) return { ok: false, reason: 'bad-conf-change', lead: this.lead, detail: next.error };
    const e: Entry = { term: this.term, index: this.log.lastIndex() + 1, type: EntryType.ConfChange, data: encodeConfChange({ change: cc, conf: next.conf }) };
    this.appendEntry(e);
    this.confLog.push({ index: e.index, conf: next.conf });
    this.applyConf(next.conf);
    return { ok: true, index: e.index, term: e.term };
  }

  /**
   * Asks for a linearizable read. When it is safe, a ReadState with this ctx appears in a Ready: the
   * read may be served once the application has applied ReadState.index. Returns false when no
   * leader is known (the caller should retry elsewhere or later).
   */
  readIndex(ctx: number): boolean {
    this.assertDrivable();
    if (this.role !== 'leader' && (this.lead === NONE || this.role !== 'follower')) return false;
    this.reads.request(this.id, ctx);
    return true;
  }

  /** Hands leadership to `to` (thesis §3.10). Proposals are refused until it completes or times out. */
  transferLeader(to: NodeId): boolean {
    this.assertDrivable();
    if (this.role !== 'leader' || to === this.id || !this.conf.voters.includes(to)) return false;
    if (this.leadTransferee === to) return true;
    this.leadTransferee = to;
    this.electionElapsed = 0; // the transfer must finish within one election timeout
    const pr = this.prs.get(to)!;
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeout-now', from: this.id, to, term: this.term });
    else this.sendAppend(to);
    return true;
  }

  /**
   * The application has evidence that the leader is gone (its connections closed, as they do when its
   * process dies): stop honouring its lease and campaign within a few ticks instead of a whole
   * election timeout. Safe: the campaign still starts with a pre-vote, which fails while the other
   * voters hear from a live leader; a live leader's next heartbeat simply restores it.
   */
  forgetLeader(): void {
    this.assertDrivable();
    if (this.role !== 'follower' || this.lead === NONE) return;
    this.lead = NONE;
    // Spread over half a timeout, so that survivors who noticed at once rarely split the vote.
    const soon = this.randomizedElectionTimeout - this.rand.int(1, Math.max(2, Math.ceil(this.electionTicks / 2) + 1));
    this.electionElapsed = Math.max(this.electionElapsed, soon);
  }

  /** The transport could not deliver a snapshot (or delivered it): move the follower on. */
  reportSnapshot(to: NodeId, ok: boolean): void {
    this.assertDrivable();
    const pr = this.prs.get(to);
    if (this.role !== 'leader' || !pr || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the next heartbeat answer before probing again, as etcd does.
    pr.probeSent = true;
  }

  /** The transport could not reach `to`: stop streaming optimistically to it. */
  reportUnreachable(to: NodeId): void {
    this.assertDrivable();
    const pr = this.prs.get(to);
    if (this.role === 'leader' && pr && pr.state === 'replicate') pr.becomeProbe();
  }

  step(m: Message): void {
    this.assertDrivable();
    if (m.to !== this.id || m.from === this.id) return;
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'pre-vote') {
        // Within a lease from a live leader, a vote request is from a node that was cut off; with
        // CheckQuorum it cannot depose the leader (unless the leader itself asked, by transfer).
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTicks;
        if (inLease && !m.transfer) return;
      }
      if (m.type === 'pre-vote') {
        // A pre-vote never changes our term.
      } else if (m.type === 'pre-vote-resp' && !m.reject) {
        // A granted pre-vote carries the term we would campaign at, not a term we must adopt.
      } else {
        const fromLeader = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';
        this.becomeFollower(m.term, fromLeader ? m.from : NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'app' || m.type === 'heartbeat')) {
        // A leader from an older term that was cut off: tell it our term so it steps down. Without
        // this, a node isolated at a higher term could never rejoin under PreVote.
        this.send({ type: 'app-resp', from: this.id, to: m.from, term: this.term, index: 0, reject: false, hintIndex: 0, hintTerm: 0 });
      } else if (m.type === 'pre-vote') {
        this.send({ type: 'pre-vote-resp', from: this.id, to: m.from, term: this.term, reject: true });
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'pre-vote') {
      this.handleVote(m);
      return;
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        break;
      case 'candidate':
      case 'pre-candidate':
        this.stepCandidate(m);
        break;
      case 'follower':
        this.stepFollower(m);
        break;
    }
  }

  // ---- the Ready --------------------------------------------------------------------------

  hasReady(): boolean {
    this.flush();
    return this.rd.has();
  }

  ready(): Ready {
    this.flush();
    return this.rd.take();
  }

  advance(rd: Ready): void {
    this.rd.advance(rd);
  }

  /**
   * Records a snapshot the application took at `index` (applied) and drops the entries it covers,
   * keeping `keep` entries before it for followers that are only a little behind. The caller persists
   * the snapshot and may delete persisted entries up to the returned `compactedTo`.
   */
  createSnapshot(index: number, data: Uint8Array, keep = 0): { snapshot: Snapshot; compactedTo: number } | null {
    this.assertDrivable();
    const l = this.log;
    if (index > l.applied) throw new Error(`raft: snapshot at ${index} is beyond the applied index ${l.applied}`);
    if (l.snapshot && index <= l.snapshot.meta.index) return null;
    if (index < l.offset) return null;
    const snapshot: Snapshot = { meta: { index, term: l.term(index), conf: copyConf(this.confAt(index)) }, data };
    l.snapshot = snapshot;
    const to = Math.min(index - keep, l.stable);
    if (to > l.offset) l.compact(to);
    // The snapshot's configuration becomes the base; later changes stay, as their entries do.
    this.confLog = [{ index, conf: snapshot.meta.conf }, ...this.confLog.filter((c) => c.index > index)];
    return { snapshot, compactedTo: l.offset };
  }

  /** The last index durable on this node (saved by the driver and advanced). */
  stableIndex(): number {
    return this.log.stable;
  }

  /** The last index the driver applied. */
  appliedIndex(): number {
    return this.log.applied;
  }

  /** This node leads, and an entry of its term has committed: its view of the log is complete. */
  isReadyLeader(): boolean {
    return this.role === 'leader' && this.committedInTerm();
  }

  /**
   * How many entries before `index` a snapshot there should keep for slow followers: up to
   * `maxEntries`, fewer if they hold more than `maxBytes` of data.
   */
  entriesToKeep(index: number, maxEntries: number, maxBytes: number): number {
    const log = this.log;
    let bytes = 0;
    let n = 0;
    for (let i = index; n < maxEntries && i > log.offset; i--, n++) {
      bytes += log.entry(i).data.length;
      if (bytes > maxBytes) break;
    }
    return n;
  }

  /**
   * The driver made the snapshot at `index` durable and the state machine holds it: the core keeps
   * only its metadata, with `placeholder` for its data (the driver reads the data back from disk to
   * send it). Nothing happens while the core holds a newer snapshot or a received one not yet applied.
   */
  releaseSnapshotData(index: number, placeholder: Uint8Array): void {
    const log = this.log;
    const s = log.snapshot;
    if (!s || s.meta.index !== index || s.data === placeholder || log.pendingSnapshot !== null) return;
    log.snapshot = { meta: s.meta, data: placeholder };
  }

  status(): Status {
    const progress: Record<number, ProgressStatus> = {};
    if (this.role === 'leader') {
      for (const [id, pr] of this.prs) {
        progress[id] = { match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive };
      }
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      lead: this.lead,
      role: this.role,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      firstIndex: this.log.firstIndex(),
      conf: copyConf(this.conf),
      confIndex: this.lastConfIndex(),
      progress,
    };
  }

  // ---- state transitions ------------------------------------------------------------------

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.fastStart
      ? this.rand.int(2, Math.max(3, Math.ceil(this.electionTicks / 2) + 1))
      : this.electionTicks + this.rand.int(0, this.electionTicks);
    this.leadTransferee = NONE;
    this.votes.clear();
    this.uncommittedBytes = 0;
    this.appendPending = false;
    this.reads.reset();
    const last = this.log.lastIndex();
    for (const id of [...this.prs.keys()]) {
      const fresh = new Progress(last + 1, this.maxInflight, this.maxInflightBytes);
      if (id === this.id) fresh.match = last;
      this.prs.set(id, fresh);
    }
  }

  private becomeFollower(term: number, lead: NodeId): void {
    if (lead !== NONE) this.heardLeader();
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
  }

  /** The end of the fast start: from now on, full randomized election timeouts. */
  private heardLeader(): void {
    if (!this.fastStart) return;
    this.fastStart = false;
    this.randomizedElectionTimeout = this.electionTicks + this.rand.int(0, this.electionTicks);
  }

  private becomePreCandidate(): void {
    // Neither the term nor the vote changes: a pre-election disturbs nobody.
    this.votes.clear();
    this.role = 'pre-candidate';
    this.lead = NONE;
    this.reads.dropPending();
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    this.heardLeader();
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    const self = this.prs.get(this.id);
    if (self) self.becomeReplicate();
    for (const pr of this.prs.values()) pr.recentActive = false;
    if (self) self.recentActive = true;
    // A no-op in the new term: entries of earlier terms commit only with it (§5.4.2, Figure 8).
    this.appendEntry({ term: this.term, index: this.log.lastIndex() + 1, type: EntryType.Normal, data: EMPTY });
    if (this.forcePending) {
      // The forced configuration goes into the log, where restarts (without the flag) find it.
      this.forcePending = false;
      const e: Entry = { term: this.term, index: this.log.lastIndex() + 1, type: EntryType.ConfChange, data: encodeConfChange({ change: { type: 'force', id: this.id }, conf: this.conf }) };
      this.appendEntry(e);
      this.confLog.push({ index: e.index, conf: copyConf(this.conf) });
    }
  }

  /**
   * A voter may campaign; so may a voter whose removal is not committed yet, or a leader that removed
   * itself and then lost its quorum could leave the others unable to elect anyone (its log is the most
   * up to date). It counts only the votes of its new configuration, which overlaps every majority of
   * the old one, so this is as safe as the change itself.
   */
  private promotable(): boolean {
    if (this.conf.voters.includes(this.id)) return true;
    const n = this.confLog.length;
    return n > 1 && this.confLog[n - 1].index > this.log.committed && this.confLog[n - 2].conf.voters.includes(this.id);
  }

  private hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return;
    if (this.preVote && !transfer) this.runElection('pre-vote', false);
    else this.runElection('vote', transfer);
  }

  private runElection(kind: 'pre-vote' | 'vote', transfer: boolean): void {
    let voteTerm: number;
    if (kind === 'pre-vote') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    this.votes.set(this.id, true);
    if (voteResult(this.conf.voters, this.votes) === 'won') {
      // A single voter wins at once.
      if (kind === 'pre-vote') this.runElection('vote', false);
      else this.becomeLeader();
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const to of this.conf.voters) {
      if (to === this.id) continue;
      this.send({ type: kind, from: this.id, to, term: voteTerm, index, logTerm, transfer });
    }
  }

  private handleVote(m: VoteMsg): void {
    const respType = m.type === 'vote' ? 'vote-resp' : 'pre-vote-resp';
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === 'pre-vote' && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // A grant answers in the requested term (for a pre-vote, the term the candidate would use).
      this.send({ type: respType, from: this.id, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  // ---- per-role message handling -----------------------------------------------------------

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.heardLeader();
        this.handleAppend(m);
        break;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.heardLeader();
        this.handleHeartbeat(m);
        break;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.heardLeader();
        this.handleSnapshot(m);
        break;
      case 'timeout-now':
        // The leader hands over: campaign at once, skipping the pre-vote and others' leases.
        this.hup(true);
        break;
      case 'read-index-resp':
        this.reads.answered(m);
        break;
      default:
        break;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        break;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        break;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        break;
      case 'vote-resp':
      case 'pre-vote-resp':
        this.handleVoteResp(m);
        break;
      default:
        break;
    }
  }

  private handleVoteResp(m: VoteRespMsg): void {
    const expected = this.role === 'pre-candidate' ? 'pre-vote-resp' : 'vote-resp';
    if (m.type !== expected) return;
    this.votes.set(m.from, !m.reject);
    const r = voteResult(this.conf.voters, this.votes);
    if (r === 'won') {
      if (this.role === 'pre-candidate') this.runElection('vote', false);
      else this.becomeLeader();
    } else if (r === 'lost') {
      this.becomeFollower(this.term, NONE);
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.prs.get(m.from);
    switch (m.type) {
      case 'app-resp':
        if (pr) this.handleAppResp(m, pr);
        break;
      case 'heartbeat-resp':
        if (pr) this.handleHeartbeatResp(m, pr);
        break;
      case 'read-index':
        for (const ctx of m.ctxs) this.reads.request(m.from, ctx);
        break;
      default:
        break;
    }
  }

  private handleAppend(m: AppMsg): void {
    const l = this.log;
    if (m.index < l.committed) {
      this.sendAppResp(m.from, l.committed, false, 0, 0);
      return;
    }
    const last = l.maybeAppend(m.index, m.logTerm, m.entries);
    if (last >= 0) {
      if (m.entries.length > 0) this.confAfterAppend(m.index + 1, m.entries);
      l.commitTo(Math.min(m.commit, last));
      this.sendAppResp(m.from, last, false, 0, 0);
      return;
    }
    // Tell the leader where our log might match, so it skips a whole term at a time.
    const hint = l.findConflictByTerm(Math.min(m.index, l.lastIndex()), m.logTerm);
    this.sendAppResp(m.from, m.index, true, hint.index, hint.term);
  }

  private handleHeartbeat(m: HeartbeatMsg): void {
    // The leader sends min(our match, its commit): everything up to it is in our log and matches,
    // unless this node lost its log (a wiped data dir). Then the commit is beyond our last index and
    // is ignored; the leader's next probe is refused and it starts this node over.
    if (m.commit <= this.log.lastIndex()) this.log.commitTo(m.commit);
    const resp: HeartbeatRespMsg = { type: 'heartbeat-resp', from: this.id, to: m.from, term: this.term, readRound: m.readRound };
    this.send(resp);
    this.flushFollowerReads();
  }

  private handleSnapshot(m: SnapMsg): void {
    const s = m.snapshot;
    const l = this.log;
    if (s.meta.index <= l.committed) {
      this.sendAppResp(m.from, l.committed, false, 0, 0);
      return;
    }
    if (l.matchTerm(s.meta.index, s.meta.term)) {
      // We already hold the snapshot's last entry: just learn that it is committed.
      l.commitTo(s.meta.index);
      this.sendAppResp(m.from, l.committed, false, 0, 0);
      return;
    }
    l.restore(s);
    this.confLog = [{ index: s.meta.index, conf: copyConf(s.meta.conf) }];
    this.applyConf(s.meta.conf);
    this.sendAppResp(m.from, l.lastIndex(), false, 0, 0);
  }

  private handleAppResp(m: AppRespMsg, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      if (pr.state === 'probe' && m.index === pr.next - 1 && m.index <= pr.match && m.hintIndex < pr.match) {
        // The follower refuses an index it had acknowledged: it lost its log (a wiped data dir).
        // Probe again from what it has now, or send it a snapshot, instead of waiting forever.
        pr.match = m.hintIndex;
        pr.next = m.hintIndex + 1;
        pr.probeSent = false;
        this.sendAppend(m.from);
        return;
      }
      let next = m.hintIndex;
      if (m.hintTerm > 0) next = this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index;
      if (pr.maybeDecrTo(m.index, next)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!(pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === 'probe'))) return;
    pr.ackedSinceHeartbeat = true;
    pr.stalled = 0;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);

    if (this.maybeCommit()) {
      this.bcastAppend(true);
      if (this.stepDownIfRemoved()) return;
    } else if (wasPaused) this.sendAppend(m.from);
    // Stream whatever else the window now allows.
    while (this.maybeSendAppend(m.from, false));
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send({ type: 'timeout-now', from: this.id, to: m.from, term: this.term });
    }
  }

  private handleHeartbeatResp(m: HeartbeatRespMsg, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state === 'replicate') {
      // The follower is reachable but nothing we streamed was acknowledged for two heartbeats: an
      // append was lost. Fall back to probing from its match point rather than wait for new writes.
      if (pr.stalled >= 2) pr.becomeProbe();
      else if (pr.inflights.full()) pr.inflights.freeFirst();
    }
    if (pr.match < this.log.lastIndex() || pr.state === 'probe') this.sendAppend(m.from);
    if (m.readRound > 0) this.reads.ack(m.readRound, m.from, this.conf.voters, this.term);
  }

  // ---- replication --------------------------------------------------------------------------

  private appendEntry(e: Entry): void {
    this.log.append(e);
    this.uncommittedBytes += e.data.length;
    this.prs.get(this.id)?.maybeUpdate(e.index);
    this.appendPending = true;
  }

  private maybeCommit(): boolean {
    const l = this.log;
    const ci = committedIndex(this.conf.voters, (id) => this.prs.get(id)?.match ?? 0);
    // Only an entry of the current term is committed by counting replicas (§5.4.2).
    if (ci <= l.committed || l.term(ci) !== this.term) return false;
    for (let i = l.committed + 1; i <= ci; i++) this.uncommittedBytes -= l.entry(i).data.length;
    if (this.uncommittedBytes < 0) this.uncommittedBytes = 0;
    l.commitTo(ci);
    return true;
  }

  private sendAppend(to: NodeId): boolean {
    return this.maybeSendAppend(to, true);
  }

  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (!pr || to === this.id || pr.isPaused()) return false;
    const l = this.log;
    const prevIndex = pr.next - 1;
    const prevTerm = l.term(prevIndex);
    if (prevTerm < 0) return this.sendSnapshot(to, pr);
    const ents = pr.next <= l.lastIndex() ? l.slice(pr.next, l.lastIndex(), this.maxMsgEntries, this.maxMsgBytes) : [];
    if (ents.length === 0 && !sendIfEmpty) return false;
    const msg: AppMsg = { type: 'app', from: this.id, to, term: this.term, index: prevIndex, logTerm: prevTerm, entries: ents, commit: l.committed };
    this.send(msg);
    if (pr.state === 'replicate') {
      if (ents.length > 0) {
        const last = ents[ents.length - 1].index;
        let bytes = 0;
        for (const e of ents) bytes += e.data.length;
        pr.next = last + 1;
        pr.inflights.add(last, bytes);
      }
    } else {
      pr.probeSent = true;
    }
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    const s = this.log.snapshot;
    if (!pr.recentActive || !s) return false;
    this.send({ type: 'snap', from: this.id, to, term: this.term, snapshot: s });
    pr.becomeSnapshot(s.meta.index);
    return true;
  }

  private bcastAppend(sendIfEmpty: boolean): void {
    for (const id of this.prs.keys()) {
      if (id !== this.id) this.maybeSendAppend(id, sendIfEmpty);
    }
  }

  private bcastHeartbeat(readRound: number): void {
    const last = this.log.lastIndex();
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      if (pr.state === 'replicate' && !pr.ackedSinceHeartbeat && pr.match < last && pr.inflights.count > 0) pr.stalled++;
      else if (pr.ackedSinceHeartbeat || pr.match >= last) pr.stalled = 0;
      pr.ackedSinceHeartbeat = false;
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: 'heartbeat', from: this.id, to: id, term: this.term, commit, readRound });
    }
  }

  private sendAppResp(to: NodeId, index: number, reject: boolean, hintIndex: number, hintTerm: number): void {
    this.send({ type: 'app-resp', from: this.id, to, term: this.term, index, reject, hintIndex, hintTerm });
  }

  private send(m: Message): void {
    this.outbox.msgs.push(m);
  }

  // ---- time ---------------------------------------------------------------------------------

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    for (const pr of this.prs.values()) {
      // A snapshot whose answer never came (the follower crashed while installing it) is retried.
      if (pr.state === 'snapshot' && ++pr.snapshotTicks > 2 * this.electionTicks) {
        pr.pendingSnapshot = 0;
        pr.becomeProbe();
      }
    }
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum) {
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, NONE);
          return;
        }
        for (const [id, pr] of this.prs) pr.recentActive = id === this.id;
      }
      // A transfer that did not finish within an election timeout is abandoned.
      this.leadTransferee = NONE;
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(this.reads.openRound());
    }
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const id of this.conf.voters) {
      if (id === this.id || this.prs.get(id)?.recentActive) active++;
    }
    return active >= majority(this.conf.voters.length);
  }

  // ---- reads --------------------------------------------------------------------------------

  /** Work deferred so that it is batched: proposals share one append, reads share one round. */
  private flush(): void {
    if (this.rd.outstanding()) return;
    if (this.role === 'leader') {
      if (this.appendPending) {
        this.appendPending = false;
        if (this.conf.voters.length === 1 && this.maybeCommit()) {
          this.bcastAppend(true);
          this.stepDownIfRemoved();
        } else this.bcastAppend(false);
      }
      // A new leader serves reads only once it has committed an entry of its term (thesis §6.4).
      if (this.reads.hasPending() && this.committedInTerm()) {
        const round = this.reads.startRound(this.log.committed, this.conf.voters, this.term);
        if (round > 0) this.bcastHeartbeat(round);
      }
    } else if (this.role === 'follower') {
      this.flushFollowerReads();
    }
  }

  private committedInTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private flushFollowerReads(): void {
    if (this.lead !== NONE) this.reads.forward(this.lead, this.term);
  }

  // ---- configuration ------------------------------------------------------------------------

  private lastConfIndex(): number {
    return this.confLog[this.confLog.length - 1].index;
  }

  /** The configuration in force at `index`: the newest change at or before it. */
  private confAt(index: number): ConfState {
    for (let k = this.confLog.length - 1; k > 0; k--) if (this.confLog[k].index <= index) return this.confLog[k].conf;
    return this.confLog[0].conf;
  }

  /** Records the change entries of the log from `from` on (after a restart or an append). */
  private scanConfChanges(from: number): void {
    const l = this.log;
    for (let i = Math.max(from, l.offset + 1); i <= l.lastIndex(); i++) {
      const e = l.entry(i);
      if (e.type === EntryType.ConfChange) this.confLog.push({ index: i, conf: decodeConfChange(e.data).conf });
    }
  }

  /**
   * A follower appended the leader's entries from `from` on, perhaps truncating its own: the changes it
   * had there are gone, the leader's count. Cheap unless a change entry is involved.
   */
  private confAfterAppend(from: number, ents: Entry[]): void {
    const had = this.lastConfIndex() >= from && this.confLog.length > 1;
    if (!had && !ents.some((e) => e.type === EntryType.ConfChange)) return;
    while (this.confLog.length > 1 && this.lastConfIndex() >= from) this.confLog.pop();
    this.scanConfChanges(from);
    this.applyConf(this.confLog[this.confLog.length - 1].conf);
  }

  /**
   * A leader that is not a voter of its own configuration leads only until that configuration is
   * committed (dissertation §4.2.2); then it steps down, and the remaining voters elect a leader.
   */
  private stepDownIfRemoved(): boolean {
    if (this.role !== 'leader' || this.conf.voters.includes(this.id) || this.lastConfIndex() > this.log.committed) return false;
    this.becomeFollower(this.term, NONE);
    return true;
  }

  private applyConf(c: ConfState): void {
    validateConf(c);
    this.conf = copyConf(c);
    const ids = new Set([...c.voters, ...c.learners]);
    for (const id of [...this.prs.keys()]) if (!ids.has(id)) this.prs.delete(id);
    const last = this.log.lastIndex();
    for (const id of ids) {
      if (!this.prs.has(id)) {
        const pr = new Progress(last + 1, this.maxInflight, this.maxInflightBytes);
        if (id === this.id) pr.match = last;
        this.prs.set(id, pr);
      }
    }
  }

  // ---- helpers ------------------------------------------------------------------------------

  private assertDrivable(): void {
    if (this.rd.outstanding()) throw new Error('raft: the core was driven between ready() and advance()');
  }
}
