// Gives back the heap a burst left behind. V8 collects its old generation only when the heap reaches
// a limit set from what survived the last collection, and shrinks the heap on its own only when
// allocation goes quiet (its memory reducer). A manager answering heartbeats never looks quiet to
// V8, so after a burst (placing many tasks, taking a snapshot) its garbage stayed resident. Here
// "quiet" is what the manager knows and V8 does not: the Raft log stopped moving. Then, when the
// heap has grown well past what survived the last collection, one full collection runs, a pause
// well under the election timeout (docs/performance.md has the figures). Right after a snapshot the
// same holds whether the log is quiet or not: encoding the state left a copy of it as garbage.
import v8 from 'node:v8';
import vm from 'node:vm';

export interface HeapTrimPolicy {
  /** No collection while the used heap is below this: a small heap is not worth a pause. */
  minUsedBytes: number;
  /** Collect once the used heap is this many times what survived the last collection. */
  growth: number;
  /** At most one collection in this long. */
  minIntervalMs: number;
  /** "Quiet": fewer entries applied than this since the previous check. */
  quietEntries: number;
  /** How often the heap is looked at. */
  checkMs: number;
}

export const DEFAULT_HEAP_TRIM: HeapTrimPolicy = { minUsedBytes: 64 << 20, growth: 1.5, minIntervalMs: 5_000, quietEntries: 50, checkMs: 1_000 };

/** What one check sees, and what the trimmer remembers of the last collection. */
export interface HeapTrimView {
  now: number;
  usedBytes: number;
  /** Entries applied since the previous check. */
  appliedSince: number;
  /** A snapshot was just taken: the log need not be quiet. */
  afterSnapshot: boolean;
  lastAt: number;
  /** Used heap right after the last collection (0 before the first). */
  lastLiveBytes: number;
}

/** Whether to collect now: pure, so that the policy is tested without a heap. */
export function trimDue(p: HeapTrimPolicy, v: HeapTrimView): boolean {
  if (v.usedBytes < p.minUsedBytes) return false;
  if (v.appliedSince >= p.quietEntries && !v.afterSnapshot) return false;
  if (v.lastAt > 0 && v.now - v.lastAt < p.minIntervalMs) return false;
  return v.lastLiveBytes === 0 || v.usedBytes >= p.growth * v.lastLiveBytes;
}

/**
 * V8's full collection, as `--expose-gc` gives it, without that flag on the command line: the flag
 * exposes `gc` to contexts made after it is set, so one is made, and the flag is put back.
 * Null when this V8 refuses (then the trimmer does nothing, and says so).
 */
export function loadFullGc(): (() => void) | null {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as () => void;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

export interface HeapTrim {
  at: number;
  beforeBytes: number;
  afterBytes: number;
  pauseMs: number;
}

export interface HeapTrimmerDeps {
  policy: HeapTrimPolicy;
  /** Entries applied so far (a counter that only grows). */
  applied: () => number;
  gc: () => void;
  usedBytes?: () => number;
  now?: () => number;
  onTrim?: (t: HeapTrim) => void;
}

export class HeapTrimmer {
  private lastAt = 0;
  private lastLiveBytes = 0;
  private lastApplied: number;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  readonly stats = { trims: 0, pauseMs: 0, freedBytes: 0 };
  private readonly usedBytes: () => number;
  private readonly now: () => number;

  constructor(private readonly d: HeapTrimmerDeps) {
    this.usedBytes = d.usedBytes ?? (() => v8.getHeapStatistics().used_heap_size);
    this.now = d.now ?? (() => performance.now());
    this.lastApplied = d.applied();
  }

  start(): void {
    this.timer ??= setInterval(() => this.check(), this.d.policy.checkMs).unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One look at the heap; collects when trimDue says so. Returns the collection, if one ran. */
  check(afterSnapshot = false): HeapTrim | null {
    if (this.stopped) return null;
    const applied = this.d.applied();
    const view: HeapTrimView = { now: this.now(), usedBytes: this.usedBytes(), appliedSince: applied - this.lastApplied, afterSnapshot, lastAt: this.lastAt, lastLiveBytes: this.lastLiveBytes };
    // A check right after a snapshot does not restart the count of the periodic ones.
    if (!afterSnapshot) this.lastApplied = applied;
    if (!trimDue(this.d.policy, view)) return null;
    this.d.gc();
    const after = this.usedBytes();
    const t: HeapTrim = { at: view.now, beforeBytes: view.usedBytes, afterBytes: after, pauseMs: this.now() - view.now };
    this.lastAt = view.now;
    this.lastLiveBytes = after;
    this.stats.trims++;
    this.stats.pauseMs += t.pauseMs;
    this.stats.freedBytes += Math.max(0, t.beforeBytes - after);
    this.d.onTrim?.(t);
    return t;
  }
}
