// The heap trim: when it collects (the policy, on made-up views), what the trimmer remembers between
// checks (on a fake heap and clock), and that the collection it loads really frees garbage.
import t from 'tap';
import { DEFAULT_HEAP_TRIM, HeapTrimmer, loadFullGc, trimDue, type HeapTrimView } from '../../src/manager/heap-trim.js';

const MiB = 2 ** 20;
const p = DEFAULT_HEAP_TRIM;
const view = (v: Partial<HeapTrimView>): HeapTrimView => ({ now: 100_000, usedBytes: 200 * MiB, appliedSince: 0, afterSnapshot: false, lastAt: 0, lastLiveBytes: 0, ...v });

t.test('the policy', async (t) => {
  t.ok(trimDue(p, view({})), 'a big heap, a quiet log, never collected: collect');
  t.notOk(trimDue(p, view({ usedBytes: 63 * MiB })), 'under the floor: no pause for a small heap');
  t.notOk(trimDue(p, view({ appliedSince: 50 })), 'the log is moving: leave it to V8');
  t.ok(trimDue(p, view({ appliedSince: 49 })), 'just under the quiet bound');
  t.ok(trimDue(p, view({ appliedSince: 5_000, afterSnapshot: true })), 'right after a snapshot the log may be moving');
  t.notOk(trimDue(p, view({ appliedSince: 5_000, afterSnapshot: true, usedBytes: 63 * MiB })), 'but the floor holds');
  t.notOk(trimDue(p, view({ afterSnapshot: true, lastAt: 96_000, lastLiveBytes: 50 * MiB })), 'and so does the interval');
  t.notOk(trimDue(p, view({ lastAt: 96_000, lastLiveBytes: 50 * MiB })), 'collected 4 s ago: wait');
  t.ok(trimDue(p, view({ lastAt: 95_000, lastLiveBytes: 50 * MiB })), '5 s ago and grown 4x: collect');
  t.notOk(trimDue(p, view({ lastAt: 1_000, lastLiveBytes: 140 * MiB })), 'grown by less than half since the last: most of it is live');
  t.ok(trimDue(p, view({ lastAt: 1_000, lastLiveBytes: 133 * MiB })), 'grown by half: collect');
});

t.test('the trimmer between checks', async (t) => {
  let now = 0;
  let used = 100 * MiB;
  let applied = 1_000;
  const gcs: number[] = [];
  const trims: number[] = [];
  const trimmer = new HeapTrimmer({
    policy: p,
    applied: () => applied,
    gc: () => {
      gcs.push(now);
      used = 50 * MiB;
      now += 200;
    },
    usedBytes: () => used,
    now: () => now,
    onTrim: (x) => trims.push(x.pauseMs),
  });
  applied += 500;
  now = 1_000;
  t.equal(trimmer.check(), null, '500 entries applied since it started: busy');
  now = 2_000;
  const first = trimmer.check();
  t.same(first, { at: 2_000, beforeBytes: 100 * MiB, afterBytes: 50 * MiB, pauseMs: 200 }, 'quiet: one collection, measured');
  t.same(trims, [200], 'reported');
  used = 90 * MiB;
  now = 4_000;
  t.equal(trimmer.check(), null, 'within 5 s of the last');
  now = 8_000;
  t.ok(trimmer.check(), 'later, 90 MiB against 50 live: again');
  used = 55 * MiB;
  t.equal(trimmer.check(), null, 'under the floor');
  used = 90 * MiB;
  applied += 5_000;
  now = 13_500;
  t.ok(trimmer.check(true), 'after a snapshot, with the log moving');
  used = 90 * MiB;
  now = 19_000;
  t.equal(trimmer.check(), null, 'the periodic check still counts the entries applied before that snapshot: busy');
  now = 20_000;
  t.ok(trimmer.check(), 'and a second later it is quiet');
  used = 70 * MiB;
  now = 30_000;
  t.equal(trimmer.check(), null, '70 MiB against 50 live is not half again');
  t.same(gcs, [2_000, 8_000, 13_500, 20_000], 'four collections in all');
  t.same(trimmer.stats, { trims: 4, pauseMs: 800, freedBytes: 170 * MiB }, 'stats add up');
  trimmer.stop();
  used = 500 * MiB;
  now = 60_000;
  t.equal(trimmer.check(true), null, 'stopped: a check still queued does nothing');
});

t.test('the collection it loads frees garbage', async (t) => {
  const gc = loadFullGc();
  if (!gc) return t.fail('this node gives no full collection; the heap trim would be off');
  const before = process.memoryUsage().heapUsed;
  let junk: object[] | null = [];
  for (let i = 0; i < 400_000; i++) junk.push({ i, s: `garbage ${i}` });
  const full = process.memoryUsage().heapUsed;
  t.ok(full - before > 20 * MiB, `made ${Math.round((full - before) / MiB)} MiB of objects`);
  junk = null;
  gc();
  const after = process.memoryUsage().heapUsed;
  t.ok(after < before + 10 * MiB, `after the collection: ${Math.round(after / MiB)} MiB used (${Math.round(before / MiB)} before the objects)`);
  t.equal((globalThis as { gc?: unknown }).gc, undefined, 'gc is not exposed to the program');
});
