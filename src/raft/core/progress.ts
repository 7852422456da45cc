// The leader's view of each follower: how far its log matches, what to send next, and how much may
// be in flight. The three states follow etcd's raft (design.md): probe sends one append per
// heartbeat until the match point is found; replicate streams optimistically within a window;
// snapshot waits for a snapshot to land.

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A bounded window of in-flight appends, by count and by bytes (a ring buffer). */
export class Inflights {
  private readonly idx: number[];
  private readonly bytes: number[];
  private start = 0;
  count = 0;
  totalBytes = 0;

  constructor(
    readonly maxCount: number,
    readonly maxBytes: number,
  ) {
    this.idx = new Array<number>(maxCount).fill(0);
    this.bytes = new Array<number>(maxCount).fill(0);
  }

  add(lastIndex: number, size: number): void {
    if (this.count >= this.maxCount) throw new Error('raft: inflights overflow');
    const slot = (this.start + this.count) % this.maxCount;
    this.idx[slot] = lastIndex;
    this.bytes[slot] = size;
    this.count++;
    this.totalBytes += size;
  }

  /** Frees every append whose last index is <= i (acknowledged). */
  freeLE(i: number): void {
    while (this.count > 0 && this.idx[this.start] <= i) {
      this.totalBytes -= this.bytes[this.start];
      this.start = (this.start + 1) % this.maxCount;
      this.count--;
    }
  }

  freeFirst(): void {
    if (this.count > 0) this.freeLE(this.idx[this.start]);
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.totalBytes = 0;
  }

  full(): boolean {
    return this.count >= this.maxCount || (this.maxBytes > 0 && this.totalBytes >= this.maxBytes);
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an append is out and we wait for its answer (or the next heartbeat). */
  probeSent = false;
  /** The snapshot index being sent, in snapshot state. */
  pendingSnapshot = 0;
  /** Ticks spent in snapshot state: a snapshot whose answer never comes is retried. */
  snapshotTicks = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** An append answer advanced this follower since the last heartbeat broadcast. */
  ackedSinceHeartbeat = false;
  /** Heartbeat intervals in a row in which streamed appends went unacknowledged. */
  stalled = 0;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number, maxInflightBytes: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(index: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = index;
  }

  private resetState(s: ProgressState): void {
    this.state = s;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.stalled = 0;
    this.inflights.reset();
  }

  /** An acknowledgement up to n. Returns whether match moved. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * A rejection of the append after `rejected`, with the follower's hint of where the logs may match.
   * Returns false for a stale rejection (one that answers an append we no longer care about).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
