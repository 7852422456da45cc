import type { Entry, Snapshot } from './types.js';

/**
 * The Raft log as the core sees it: a compacted prefix (offset, offsetTerm), the entries after it,
 * the commit and apply cursors, and how much of it the caller has made durable (`stable`).
 *
 * The whole uncompacted tail lives in memory: the application compacts it by snapshots, so it stays
 * bounded, and the core never has to wait for a disk read.
 */
export class RaftLog {
  /** Index of the last compacted entry (0 when nothing is compacted). */
  offset = 0;
  /** Term of the entry at `offset`: what the log-matching check needs at the boundary. */
  offsetTerm = 0;
  /** entries[k] has index offset + 1 + k. */
  entries: Entry[] = [];
  committed = 0;
  /** Highest index handed to the application (in a Ready); advance() confirms it. */
  applied = 0;
  /** Highest index the caller has persisted. Entries above it are "unstable". */
  stable = 0;
  /** A snapshot received from the leader that the caller has not yet persisted and restored. */
  pendingSnapshot: Snapshot | null = null;
  /** The latest snapshot this node holds: sent to followers that need compacted entries. */
  snapshot: Snapshot | null = null;

  /**
   * Restores what a node had made durable before it stopped: contiguous entries (they may start
   * before the snapshot's index: trailing entries kept), the snapshot, and the commit index.
   */
  load(ents: Entry[], s: Snapshot | null, commit: number): void {
    for (let k = 1; k < ents.length; k++) {
      if (ents[k].index !== ents[0].index + k) {
        throw new Error(`raft: persisted entries are not contiguous at index ${ents[k].index}`);
      }
    }
    if (s) {
      const si = s.meta.index;
      const first = ents.length ? ents[0].index : 0;
      const last = ents.length ? ents[ents.length - 1].index : 0;
      if (ents.length && first <= si && last >= si) {
        if (ents[si - first].term !== s.meta.term) {
          throw new Error(`raft: persisted entry ${si} has term ${ents[si - first].term}, the snapshot says ${s.meta.term}`);
        }
        // Keep the trailing entries before the snapshot for slow followers; the first one becomes
        // the compaction boundary because its predecessor's term is not stored.
        this.offset = first;
        this.offsetTerm = ents[0].term;
        this.entries = ents.slice(1);
      } else if (ents.length && first === si + 1) {
        this.offset = si;
        this.offsetTerm = s.meta.term;
        this.entries = ents.slice();
      } else if (ents.length === 0 || last < si) {
        this.offset = si;
        this.offsetTerm = s.meta.term;
        this.entries = [];
      } else {
        throw new Error(`raft: persisted entries start at ${first}, after the snapshot at ${si} (a gap)`);
      }
      this.snapshot = s;
      this.applied = si;
    } else if (ents.length && ents[0].index !== 1) {
      throw new Error(`raft: persisted entries start at ${ents[0].index} but there is no snapshot`);
    } else {
      this.entries = ents.slice();
    }
    if (commit > this.lastIndex()) {
      throw new Error(`raft: persisted commit ${commit} is beyond the last persisted entry ${this.lastIndex()}`);
    }
    this.committed = Math.max(commit, this.offset, s ? s.meta.index : 0);
    this.stable = this.lastIndex();
  }

  lastIndex(): number {
    return this.offset + this.entries.length;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastTerm(): number {
    const n = this.entries.length;
    return n === 0 ? this.offsetTerm : this.entries[n - 1].term;
  }

  /** The term at index i, or -1 when i is compacted away or beyond the end. */
  term(i: number): number {
    if (i === this.offset) return this.offsetTerm;
    if (i < this.offset || i > this.lastIndex()) return -1;
    return this.entries[i - this.offset - 1].term;
  }

  matchTerm(i: number, term: number): boolean {
    return this.term(i) === term;
  }

  /** The log-up-to-date rule of the election restriction (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  entry(i: number): Entry {
    return this.entries[i - this.offset - 1];
  }

  /** Entries [lo, hi] with at most maxCount entries and maxBytes of data (always at least one). */
  slice(lo: number, hi: number, maxCount: number, maxBytes: number): Entry[] {
    const start = lo - this.offset - 1;
    const end = Math.min(hi - this.offset, start + maxCount);
    if (start >= end) return [];
    let bytes = 0;
    let k = start;
    for (; k < end; k++) {
      bytes += this.entries[k].data.length + 24;
      if (bytes > maxBytes && k > start) break;
    }
    return this.entries.slice(start, k);
  }

  append(e: Entry): void {
    this.entries.push(e);
  }

  /**
   * Appends the leader's entries after prev, truncating a conflicting suffix first (§5.3). Returns the
   * index of the last entry now known to match the leader, or -1 when the log does not contain prev.
   */
  maybeAppend(prevIndex: number, prevTerm: number, ents: Entry[]): number {
    if (!this.matchTerm(prevIndex, prevTerm)) return -1;
    const lastNew = prevIndex + ents.length;
    let k = 0;
    for (; k < ents.length; k++) {
      const e = ents[k];
      if (e.index <= this.offset) continue; // already compacted: it was committed, so it matches
      const t = this.term(e.index);
      if (t !== e.term) break;
    }
    if (k < ents.length) {
      const first = ents[k].index;
      // Never truncate committed entries: that would mean two different committed logs.
      if (first <= this.committed) {
        throw new Error(`raft: conflict at committed index ${first} (committed ${this.committed})`);
      }
      this.truncateFrom(first);
      for (; k < ents.length; k++) this.entries.push(ents[k]);
    }
    return lastNew;
  }

  /** Drops entries >= i; entries above the new end are no longer stable on disk either. */
  private truncateFrom(i: number): void {
    this.entries.length = i - this.offset - 1;
    if (this.stable >= i) this.stable = i - 1;
  }

  /**
   * Where a follower's log may match the leader's: the largest index <= index whose term is <= term.
   * Used on both sides of the fast backtracking of a rejected append.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (; i > this.offset; i--) {
      const t = this.entries[i - this.offset - 1].term;
      if (t <= term) return { index: i, term: t };
    }
    return { index: i, term: this.term(i) };
  }

  commitTo(i: number): boolean {
    if (i > this.committed) {
      if (i > this.lastIndex()) throw new Error(`raft: commit ${i} beyond last index ${this.lastIndex()}`);
      this.committed = i;
      return true;
    }
    return false;
  }

  unstableEntries(): Entry[] {
    const start = this.stable - this.offset;
    return start >= this.entries.length ? [] : this.entries.slice(Math.max(0, start));
  }

  hasNextCommitted(): boolean {
    return this.committed > this.applied && this.pendingSnapshot === null;
  }

  nextCommitted(maxCount: number): Entry[] {
    if (!this.hasNextCommitted()) return [];
    const lo = this.applied + 1;
    const hi = Math.min(this.committed, this.applied + maxCount);
    return this.entries.slice(lo - this.offset - 1, hi - this.offset);
  }

  /** Resets the log to a snapshot from the leader: everything before it is replaced. */
  restore(s: Snapshot): void {
    this.offset = s.meta.index;
    this.offsetTerm = s.meta.term;
    this.entries = [];
    this.committed = s.meta.index;
    this.stable = s.meta.index;
    this.pendingSnapshot = s;
    this.snapshot = s;
  }

  /** Drops entries <= i (which must be stable and applied); they are covered by this.snapshot. */
  compact(i: number): void {
    if (i <= this.offset) return;
    if (i > this.applied || i > this.stable) throw new Error(`raft: compact ${i} beyond applied/stable`);
    this.offsetTerm = this.term(i);
    this.entries = this.entries.slice(i - this.offset);
    this.offset = i;
  }
}
