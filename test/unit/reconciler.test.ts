import t from 'tap';
import { plan, restartWait } from '../../src/manager/reconciler.js';
import { placePending } from '../../src/manager/placement.js';
import { ClusterState, type Task } from '../../src/manager/state/cluster-state.js';
import { normalizeSpec } from '../../src/spec/index.js';

function ended(state: Task['state'], updatedAt: number): Task {
  return { id: `t${updatedAt}`, serviceId: 's', serviceName: 'web', slot: 1, version: 1, nodeId: 'n', desired: 'running', state, containerId: null, exitCode: null, error: null, reason: null, restarts: 0, createdAt: 0, updatedAt };
}

t.test('restart policy: backoff, never, on-failure, maxAttempts', async (t) => {
  const always = { policy: 'always' as const, maxAttempts: 0, delayMs: 1000 };
  t.equal(restartWait(always, [], 0), 0, 'an empty slot is filled at once');
  t.equal(restartWait(always, [ended('shutdown', 10)], 10), 0, 'a shut-down task is replaced at once');
  t.equal(restartWait(always, [ended('lost', 10)], 10), 0, 'so is one lost with its node');
  t.equal(restartWait(always, [ended('failed', 1000)], 1500), 500, 'first failure: the delay');
  t.equal(restartWait(always, [ended('failed', 1000), ended('failed', 500)], 1000), 2000, 'second in a row: twice the delay');
  t.equal(restartWait(always, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((k) => ended('failed', k)), 12), 300_000 - 0, 'capped at 5 minutes');
  t.equal(restartWait({ ...always, policy: 'never' }, [ended('failed', 1)], 10_000), -1, 'never: left failed');
  t.equal(restartWait({ ...always, policy: 'on-failure' }, [ended('complete', 1)], 10_000), -1, 'on-failure: a completed task stays completed');
  t.equal(restartWait({ ...always, policy: 'on-failure' }, [ended('failed', 1)], 10_000), 0, 'on-failure: a failed one is replaced');
  const three = { ...always, maxAttempts: 3 };
  t.equal(restartWait(three, [1, 2, 3].map((k) => ended('failed', k)), 100_000), 0, 'three failures: the third replacement');
  t.equal(restartWait(three, [1, 2, 3, 4].map((k) => ended('failed', k)), 100_000), -1, 'four: no more');
});

t.test('plan and placement: one task per slot, spread over the least loaded ready nodes', async (t) => {
  const s = new ClusterState();
  s.apply({ op: 'service.upsert', ts: 1, serviceId: 's1', spec: normalizeSpec({ name: 'web', image: 'x', replicas: 3 }) });
  let n = 0;
  const p = plan(s, 1, () => `t${++n}`);
  t.same(p.create.map((c) => c.slot), [1, 2, 3]);
  s.apply({ op: 'task.create', ts: 2, tasks: p.create });
  t.same(placePending(s).unplaced, [], 'no worker: the reason set at creation stands, nothing to propose');
  for (const id of ['a', 'b']) s.apply({ op: 'node.register', ts: 3, node: { id, name: id, address: id, labels: {}, capacity: { cpu: 1, memory: 1, disk: 1 } } });
  const placed = placePending(s);
  t.equal(placed.assignments.length, 3);
  const per = new Map<string, number>();
  for (const a of placed.assignments) per.set(a.nodeId, (per.get(a.nodeId) ?? 0) + 1);
  t.same([...per.values()].sort(), [1, 2], 'spread 2 and 1');
  s.apply({ op: 'node.status', ts: 4, nodes: [{ id: 'a', status: 'down' }] });
  t.ok(placePending(s).assignments.every((a) => a.nodeId === 'b'), 'a down node gets nothing');
  t.same(plan(s, 5).create, [], 'nothing more to create');
});
