// Linearizable reads without writing to the log (the ReadIndex of the Raft thesis §6.4, etcd's
// read_only.go). A leader notes its commit index, confirms with a heartbeat round that a quorum
// still follows it, and then releases the reads with that index; a follower forwards its reads to
// the leader and releases them with the index the leader answers. Requests are batched: every read
// asked before a round starts shares it.
import { majority } from './quorum.js';
import type { Outbox } from './ready.js';
import type { NodeId, ReadIndexRespMsg } from './types.js';

interface ReadRequest {
  from: NodeId;
  ctx: number;
}

interface ReadRound {
  seq: number;
  index: number;
  reqs: ReadRequest[];
  acks: Set<NodeId>;
}

export class ReadIndex {
  /** Leader: reads not yet put in a heartbeat round. Follower: ctxs not yet forwarded to the leader. */
  private pending: ReadRequest[] = [];
  private rounds: ReadRound[] = [];
  private seq = 0;

  /** Released reads become ReadStates (this node's own) or read-index-resp messages in `out`. */
  constructor(
    private readonly self: NodeId,
    private readonly out: Outbox,
  ) {}

  /** A read asked on this node (from = self) or forwarded by a follower to this leader. */
  request(from: NodeId, ctx: number): void {
    this.pending.push({ from, ctx });
  }

  hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** The leadership the reads were for is over: they are dropped (their callers time out and retry). */
  reset(): void {
    this.pending = [];
    this.rounds = [];
  }

  /** Forgets the requests not yet in a round (a pre-candidate has no leader to forward them to). */
  dropPending(): void {
    this.pending = [];
  }

  /** The newest round still waiting for acks (0: none): every heartbeat carries it. */
  openRound(): number {
    return this.rounds.length > 0 ? this.rounds[this.rounds.length - 1].seq : 0;
  }

  /**
   * Leader: puts the pending reads in a round at `commit`. Returns the round's number for the
   * heartbeats that confirm it, or 0 when this node is the only voter (the reads are released at once).
   */
  startRound(commit: number, voters: readonly NodeId[], term: number): number {
    const round: ReadRound = { seq: ++this.seq, index: commit, reqs: this.pending, acks: new Set([this.self]) };
    this.pending = [];
    if (voters.length === 1) {
      this.release([round], term);
      return 0;
    }
    this.rounds.push(round);
    return round.seq;
  }

  /** Leader: a voter answered the heartbeat of round `seq`. */
  ack(seq: number, from: NodeId, voters: readonly NodeId[], term: number): void {
    const k = this.rounds.findIndex((r) => r.seq === seq);
    if (k < 0 || !voters.includes(from)) return;
    const round = this.rounds[k];
    round.acks.add(from);
    if (round.acks.size < majority(voters.length)) return;
    // A quorum confirmed our leadership after this round began, hence after every earlier one did.
    this.release(this.rounds.splice(0, k + 1), term);
  }

  /** Follower: sends the pending reads to the leader. */
  forward(lead: NodeId, term: number): void {
    if (this.pending.length === 0) return;
    const ctxs = this.pending.map((r) => r.ctx);
    this.pending = [];
    this.out.msgs.push({ type: 'read-index', from: this.self, to: lead, term, ctxs });
  }

  /** Follower: the leader confirmed the reads it forwarded. */
  answered(m: ReadIndexRespMsg): void {
    for (const ctx of m.ctxs) this.out.readStates.push({ index: m.index, ctx });
  }

  private release(rounds: ReadRound[], term: number): void {
    for (const round of rounds) {
      const byFollower = new Map<NodeId, number[]>();
      for (const req of round.reqs) {
        if (req.from === this.self) this.out.readStates.push({ index: round.index, ctx: req.ctx });
        else {
          const list = byFollower.get(req.from) ?? [];
          list.push(req.ctx);
          byFollower.set(req.from, list);
        }
      }
      for (const [to, ctxs] of byFollower) {
        this.out.msgs.push({ type: 'read-index-resp', from: this.self, to, term, index: round.index, ctxs });
      }
    }
  }
}
