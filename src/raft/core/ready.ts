// The core's output, handed to the driver in batches (etcd's rawnode.go): a Ready holds what to save
// (entries, hard state, a received snapshot), what to send, what to apply and which reads may be
// served; the driver carries it out and calls advance(). Between the two the core must not be driven,
// as the Ready describes a fixed state.
import type { RaftLog } from './log.js';
import type { HardState, Message, NodeId, ReadState, Ready, Role, SoftState } from './types.js';

/** What the core produced for the driver since the last Ready: messages and released reads. */
export class Outbox {
  msgs: Message[] = [];
  readStates: ReadState[] = [];
}

/** The parts of the core a Ready reports on. */
export interface ReadySource {
  readonly term: number;
  readonly vote: NodeId;
  readonly lead: NodeId;
  readonly role: Role;
  readonly log: RaftLog;
}

export function hardStateOf(s: ReadySource): HardState {
  return { term: s.term, vote: s.vote, commit: s.log.committed };
}

/** Tracks what the driver was last given, to report only changes, and whether a Ready is out. */
export class ReadyTracker {
  private prevSoft: SoftState;
  private prevHard: HardState;
  private out = false;

  constructor(
    private readonly src: ReadySource,
    private readonly outbox: Outbox,
    /** At most this many committed entries are handed out per Ready. */
    private readonly maxApplyEntries: number,
  ) {
    this.prevSoft = { lead: src.lead, role: src.role };
    this.prevHard = hardStateOf(src);
  }

  /** A Ready was handed out and not yet advanced. */
  outstanding(): boolean {
    return this.out;
  }

  has(): boolean {
    const l = this.src.log;
    return (
      this.outbox.msgs.length > 0 ||
      this.outbox.readStates.length > 0 ||
      l.stable < l.lastIndex() ||
      l.pendingSnapshot !== null ||
      l.hasNextCommitted() ||
      this.softChanged() ||
      this.hardChanged()
    );
  }

  take(): Ready {
    const s = this.src;
    const l = s.log;
    const rd: Ready = {
      softState: this.softChanged() ? { lead: s.lead, role: s.role } : null,
      hardState: this.hardChanged() ? hardStateOf(s) : null,
      snapshot: l.pendingSnapshot,
      entries: l.unstableEntries(),
      committedEntries: l.nextCommitted(this.maxApplyEntries),
      messages: this.outbox.msgs,
      readStates: this.outbox.readStates,
    };
    this.out = true;
    return rd;
  }

  /** The driver carried out `rd`: its entries are stable, its committed entries applied, its messages gone. */
  advance(rd: Ready): void {
    const l = this.src.log;
    this.out = false;
    if (rd.softState) this.prevSoft = rd.softState;
    if (rd.hardState) this.prevHard = rd.hardState;
    if (rd.snapshot) {
      l.applied = Math.max(l.applied, rd.snapshot.meta.index);
      l.stable = Math.max(l.stable, rd.snapshot.meta.index);
      if (l.pendingSnapshot === rd.snapshot) l.pendingSnapshot = null;
    }
    if (rd.entries.length > 0) l.stable = Math.max(l.stable, rd.entries[rd.entries.length - 1].index);
    if (rd.committedEntries.length > 0) l.applied = rd.committedEntries[rd.committedEntries.length - 1].index;
    if (this.outbox.msgs === rd.messages) this.outbox.msgs = [];
    if (this.outbox.readStates === rd.readStates) this.outbox.readStates = [];
  }

  private softChanged(): boolean {
    return this.prevSoft.lead !== this.src.lead || this.prevSoft.role !== this.src.role;
  }

  private hardChanged(): boolean {
    const h = this.prevHard;
    return h.term !== this.src.term || h.vote !== this.src.vote || h.commit !== this.src.log.committed;
  }
}
