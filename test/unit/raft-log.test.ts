import t from 'tap';
import { RaftLog } from '../../src/raft/core/log.js';
import { Inflights, Progress } from '../../src/raft/core/progress.js';
import { committedIndex, voteResult } from '../../src/raft/core/quorum.js';
import { entries } from '../helpers/raft-net.js';

function logOf(...terms: number[]): RaftLog {
  const l = new RaftLog();
  for (const e of entries(...terms)) l.append(e);
  l.stable = l.lastIndex();
  return l;
}

t.test('term lookups at the boundaries', async (t) => {
  const l = logOf(1, 1, 2);
  t.equal(l.term(0), 0);
  t.equal(l.term(3), 2);
  t.equal(l.term(4), -1, 'beyond the end');
  l.applied = 3;
  l.committed = 3;
  l.compact(2);
  t.equal(l.term(1), -1, 'compacted away');
  t.equal(l.term(2), 1, 'the boundary keeps its term');
  t.equal(l.firstIndex(), 3);
});

t.test('maybeAppend: match, conflict truncation, refusal', async (t) => {
  const l = logOf(1, 1, 1);
  t.equal(l.maybeAppend(2, 2, entries(1, 1, 2).slice(2)), -1, 'prev term mismatch is refused');
  t.equal(l.maybeAppend(2, 1, [{ term: 2, index: 3, type: 0, data: new Uint8Array() }]), 3, 'conflict at 3 replaced');
  t.equal(l.term(3), 2);
  t.equal(l.stable, 2, 'the replaced entry is no longer stable');
  t.equal(l.maybeAppend(1, 1, entries(1, 1).slice(1)), 2, 'a duplicate older append changes nothing');
  t.equal(l.lastIndex(), 3, 'and does not truncate');
  l.committed = 3;
  t.throws(() => l.maybeAppend(2, 1, [{ term: 3, index: 3, type: 0, data: new Uint8Array() }]), /conflict at committed index 3/);
});

t.test('findConflictByTerm skips whole terms', async (t) => {
  const l = logOf(1, 2, 2, 2, 4, 4, 4);
  t.same(l.findConflictByTerm(7, 3), { index: 4, term: 2 });
  t.same(l.findConflictByTerm(7, 5), { index: 7, term: 4 });
  t.same(l.findConflictByTerm(3, 1), { index: 1, term: 1 });
  t.same(l.findConflictByTerm(100, 0), { index: 0, term: 0 });
});

t.test('isUpToDate compares last term, then length', async (t) => {
  const l = logOf(1, 2, 2);
  t.ok(l.isUpToDate(1, 3));
  t.ok(l.isUpToDate(3, 2));
  t.notOk(l.isUpToDate(2, 2));
  t.notOk(l.isUpToDate(10, 1));
});

t.test('slice honours count and byte limits but returns at least one entry', async (t) => {
  const l = new RaftLog();
  for (let i = 1; i <= 10; i++) l.append({ term: 1, index: i, type: 0, data: new Uint8Array(100) });
  t.equal(l.slice(1, 10, 3, 1 << 20).length, 3);
  t.equal(l.slice(1, 10, 100, 250).length, 2, '2 x 124 bytes fit in 250');
  t.equal(l.slice(1, 10, 100, 1).length, 1, 'at least one');
});

t.test('inflights: bounded by count and bytes, freed by acknowledgements', async (t) => {
  const f = new Inflights(3, 1000);
  f.add(5, 100);
  f.add(7, 100);
  t.notOk(f.full());
  f.add(9, 100);
  t.ok(f.full(), 'count limit');
  t.throws(() => f.add(10, 1), /overflow/);
  f.freeLE(7);
  t.equal(f.count, 1);
  f.add(12, 950);
  t.ok(f.full(), 'byte limit');
  f.freeFirst();
  t.equal(f.count, 1);
  f.reset();
  t.equal(f.count, 0);
  t.equal(f.totalBytes, 0);
});

t.test('progress: stale rejections are ignored, fresh ones back off to the hint', async (t) => {
  const p = new Progress(11, 4, 0);
  t.notOk(p.maybeDecrTo(5, 3), 'in probe, a rejection not of next-1 is stale');
  t.ok(p.maybeDecrTo(10, 6));
  t.equal(p.next, 7, 'backs off to hint + 1');
  p.maybeUpdate(6);
  p.becomeReplicate();
  t.equal(p.next, 7);
  t.notOk(p.maybeDecrTo(6, 0), 'in replicate, a rejection at or below match is stale');
  t.ok(p.maybeDecrTo(8, 0));
  t.equal(p.next, 7, 'replicate falls back to match + 1');
});

t.test('quorum helpers', async (t) => {
  const match: Record<number, number> = { 1: 10, 2: 7, 3: 3, 4: 9, 5: 1 };
  t.equal(committedIndex([1, 2, 3, 4, 5], (id) => match[id]), 7);
  t.equal(committedIndex([1], (id) => match[id]), 10);
  t.equal(voteResult([1, 2, 3], new Map([[1, true], [2, true]])), 'won');
  t.equal(voteResult([1, 2, 3], new Map([[1, true], [2, false], [3, false]])), 'lost');
  t.equal(voteResult([1, 2, 3, 4], new Map([[1, true], [2, true], [3, false]])), 'pending');
});
