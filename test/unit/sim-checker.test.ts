// The simulator's safety checker must be able to fail: feed it histories that break each property.
import t from 'tap';
import { Raft, type Entry } from '../../src/raft/index.js';
import { SafetyChecker, encodeValue } from '../sim/invariants.js';

function leaderWithLog(id: number, terms: number[], term: number): Raft {
  const entries: Entry[] = terms.map((tm, k) => ({ term: tm, index: k + 1, type: 0, data: encodeValue(100 + k) }));
  return new Raft({ id, conf: { voters: [1, 2, 3], learners: [] }, persisted: { hardState: { term, vote: 0, commit: 0 }, snapshot: null, entries } });
}

function entry(index: number, term: number, value: number): Entry {
  return { index, term, type: 0, data: encodeValue(value) };
}

t.test('Election Safety: two leaders in one term', async (t) => {
  const c = new SafetyChecker();
  c.onLeader(1, 3, leaderWithLog(1, [], 3));
  t.throws(() => c.onLeader(2, 3, leaderWithLog(2, [], 3)), /Election Safety/);
});

t.test('State Machine Safety: two values applied at one index', async (t) => {
  const c = new SafetyChecker();
  c.onApply(1, entry(5, 2, 7));
  t.doesNotThrow(() => c.onApply(2, entry(5, 2, 7)));
  t.throws(() => c.onApply(3, entry(5, 3, 8)), /State Machine Safety/);
});

t.test('Log Matching: one index and term holding two values', async (t) => {
  const c = new SafetyChecker();
  const r = leaderWithLog(1, [1], 1);
  c.onPersist(1, r, [entry(2, 1, 10)]);
  t.throws(() => c.onPersist(2, r, [entry(2, 1, 11)]), /Log Matching/);
});

t.test('Leader Completeness: a leader missing a committed entry', async (t) => {
  const c = new SafetyChecker();
  const r = leaderWithLog(1, [1, 1, 2], 2);
  c.onCommit(1, r, 1, 3);
  t.throws(() => c.onLeader(2, 3, leaderWithLog(2, [1, 1], 3)), /Leader Completeness/);
  t.throws(() => c.onLeader(3, 4, leaderWithLog(3, [1, 1, 3], 4)), /Leader Completeness/);
  t.doesNotThrow(() => c.onLeader(1, 5, leaderWithLog(1, [1, 1, 2, 5], 5)));
});

t.test('a snapshot that disagrees with what was applied', async (t) => {
  const c = new SafetyChecker();
  c.onApply(1, entry(1, 1, 7));
  c.onApply(1, entry(2, 1, 8));
  t.doesNotThrow(() => c.onSnapshotRestore(2, 2, [7, 8]));
  t.throws(() => c.onSnapshotRestore(2, 2, [7, 9]), /State Machine Safety/);
});
