import t from 'tap';
import { plan, restartWait } from '../../src/manager/reconciler.js';
import { Reconciler } from '../../src/manager/leader/reconciler.js';
import type { RaftNode } from '../../src/raft/index.js';
import { ManagerState, type Envelope } from '../../src/manager/state/machine.js';
import type { ClusterCommand as Command } from '../../src/manager/state/cluster-state.js';
import { placePending } from '../../src/manager/placement.js';
import { ClusterState, TERMINAL, type Service, type Task } from '../../src/manager/state/cluster-state.js';
import { normalizeSpec } from '../../src/spec/index.js';

function ended(state: Task['state'], updatedAt: number, restarts = 0): Task {
  return { id: `t${updatedAt}`, serviceId: 's', serviceName: 'web', slot: 1, version: 1, nodeId: 'n', desired: 'running', state, containerId: null, exitCode: null, error: null, reason: null, restarts, runningAt: null, health: null, createdAt: updatedAt, updatedAt };
}

t.test('restart policy: backoff, never, on-failure, maxAttempts', async (t) => {
  const always = { policy: 'always' as const, maxAttempts: 0, delayMs: 1000 };
  t.equal(restartWait(always, [], 0), 0, 'an empty slot is filled at once');
  t.equal(restartWait(always, [ended('shutdown', 10)], 10), 0, 'a shut-down task is replaced at once');
  t.equal(restartWait(always, [ended('lost', 10)], 10), 0, 'so is one lost with its node');
  t.equal(restartWait(always, [ended('failed', 1000)], 1500), 500, 'first failure: the delay');
  t.equal(restartWait(always, [ended('failed', 1000, 1), ended('failed', 500)], 1000), 2000, 'second in a row: twice the delay');
  t.equal(restartWait(always, [ended('failed', 12, 11)], 12), 300_000, 'capped at 5 minutes');
  t.equal(restartWait(always, [ended('failed', 1000, 1), ended('shutdown', 1500)], 1500), 0, 'the newest task decides: a shut-down one is replaced at once');
  t.equal(restartWait(always, [ended('failed', 1000, 3)], 1000, 2), 0, 'a failure of an older spec does not delay the new one');
  t.equal(restartWait({ ...always, policy: 'never' }, [ended('failed', 1)], 10_000), -1, 'never: left failed');
  t.equal(restartWait({ ...always, policy: 'on-failure' }, [ended('complete', 1)], 10_000), -1, 'on-failure: a completed task stays completed');
  t.equal(restartWait({ ...always, policy: 'on-failure' }, [ended('failed', 1)], 10_000), 0, 'on-failure: a failed one is replaced');
  const three = { ...always, maxAttempts: 3 };
  t.equal(restartWait(three, [ended('failed', 3, 2)], 100_000), 0, 'three failures: the third replacement');
  t.equal(restartWait(three, [ended('failed', 4, 3)], 100_000), -1, 'four: no more');
});

/** A cluster driven by plan and placement, with workers that do as told (or fail what `fails` says). */
class Harness {
  s = new ClusterState();
  now = 1000;
  private n = 0;
  fails: (t: Task) => boolean = () => false;

  constructor(nodes: string[], cpu = 8) {
    for (const id of nodes) this.s.apply({ op: 'node.register', ts: 0, node: { id, name: id, address: `${id}.invalid:1`, labels: {}, capacity: { cpu, memory: 2 ** 34, disk: 2 ** 40 } } });
  }

  /** One reconciler round, then every worker's reports; time moves on by ms. */
  round(ms = 100): void {
    const { s, now } = this;
    const p = plan(s, now, () => `t${++this.n}`);
    for (const x of p.updates) s.apply({ op: 'service.update', ts: now, ...x });
    if (p.shutdown.length || p.terminal.length) s.apply({ op: 'task.shutdown', ts: now, ids: p.shutdown, terminal: p.terminal });
    if (p.remove.length) s.apply({ op: 'task.remove', ts: now, ids: p.remove });
    if (p.create.length) s.apply({ op: 'task.create', ts: now, tasks: p.create });
    const placed = placePending(s);
    s.apply({ op: 'task.assign', ts: now, assignments: placed.assignments, unplaced: placed.unplaced });
    for (const nodeId of s.nodes.keys()) {
      const reports = s.assignmentsOf(nodeId).map((t) => {
        if (t.desired === 'shutdown') return { taskId: t.id, state: 'shutdown' as const };
        if (this.fails(t)) return { taskId: t.id, state: 'failed' as const, error: 'exited with code 1' };
        return { taskId: t.id, state: 'running' as const, containerId: Buffer.from(t.id).toString('hex').padEnd(12, '0') };
      });
      if (reports.length) s.apply({ op: 'task.report', ts: now, nodeId, reports });
    }
    this.now += ms;
  }

  svc(): Service {
    return this.s.findService('web')!;
  }

  live(): Task[] {
    return [...this.s.tasks.values()].filter((t) => t.desired === 'running' && !TERMINAL.has(t.state));
  }

  running(): Task[] {
    return this.live().filter((t) => t.state === 'running');
  }

  /** Rounds until f holds (at most n), checking `each` after every round. */
  until(f: () => boolean, each: () => void = () => undefined, n = 1000): number {
    for (let k = 0; k < n; k++) {
      if (f()) return k;
      this.round();
      each();
    }
    throw new Error('did not converge');
  }
}

const web = (extra: Record<string, unknown> = {}) => normalizeSpec({ name: 'web', image: 'img:1', replicas: 4, update: { parallelism: 1, monitor: '1s', failureAction: 'rollback' }, ...extra });

t.test('rolling update: one slot at a time, each new task monitored before the next; the same spec twice changes nothing', async (t) => {
  const h = new Harness(['a', 'b']);
  h.s.apply({ op: 'service.upsert', ts: h.now, serviceId: 's', spec: web() });
  h.until(() => h.running().length === 4);
  const again = h.s.apply({ op: 'service.upsert', ts: h.now, serviceId: 'x', spec: web() });
  t.same([again.ok && 'changed' in again && again.changed, h.svc().update], [false, null], 'the same spec again: unchanged, no update');
  h.s.apply({ op: 'service.upsert', ts: h.now, serviceId: 'x', spec: web({ replicas: 5 }) });
  t.equal(h.svc().update, null, 'a scale is not an update');
  h.until(() => h.running().length === 5);
  h.s.apply({ op: 'service.upsert', ts: h.now, serviceId: 'x', spec: web({ replicas: 5, image: 'img:2' }) });
  t.same([h.svc().update?.state, h.svc().update?.from, h.svc().update?.to], ['updating', 1, 2], 'a new image starts an update');
  let minRunning = Infinity;
  const rounds = h.until(
    () => h.svc().update?.state === 'completed',
    () => (minRunning = Math.min(minRunning, h.running().length)),
  );
  t.ok(minRunning >= 4, `never fewer than replicas - parallelism running (lowest ${minRunning})`);
  t.ok(rounds >= 5 * 10, `each of 5 slots monitored for 1 s before the next (${rounds} rounds of 100 ms)`);
  t.same(h.running().map((x) => x.version), [2, 2, 2, 2, 2], 'every slot runs the new version');
  t.same(Object.keys(h.svc().specs).sort(), ['1', '2'], 'the old spec is kept for a rollback, no more');
});

t.test('rolling update with a failing new version: rollback restores the old spec; pause stops where it is', async (t) => {
  for (const action of ['rollback', 'pause'] as const) {
    const h = new Harness(['a', 'b']);
    h.s.apply({ op: 'service.upsert', ts: h.now, serviceId: 's', spec: web({ update: { failureAction: action } }) });
    h.until(() => h.running().length === 4);
    h.fails = (x) => x.version === 2;
    h.s.apply({ op: 'service.upsert', ts: h.now, serviceId: 'x', spec: web({ image: 'bad', update: { failureAction: action } }) });
    if (action === 'rollback') {
      h.until(() => h.svc().update?.state === 'rolled-back');
      t.match(h.svc().update?.message, /failed: exited with code 1/, 'the update says why');
      t.same([h.svc().spec.image, h.svc().taskVersion], ['img:1', 1], 'the old spec and version are back');
      h.until(() => h.running().length === 4);
      t.same(h.running().map((x) => x.version), [1, 1, 1, 1], 'four tasks of the old version run');
    } else {
      h.until(() => h.svc().update?.state === 'paused');
      t.equal(h.running().filter((x) => x.version === 1).length, 3, 'paused after the first slot: three old tasks untouched');
    }
  }
});

t.test('drain: every task moves off the node, a replacement running before the old task stops', async (t) => {
  const h = new Harness(['a', 'b', 'c']);
  h.s.apply({ op: 'service.upsert', ts: h.now, serviceId: 's', spec: web({ replicas: 6 }) });
  h.until(() => h.running().length === 6);
  t.equal(h.running().filter((x) => x.nodeId === 'a').length, 2, 'two tasks on a to begin with');
  h.s.apply({ op: 'node.availability', ts: h.now, nodeId: 'a', availability: 'drain' });
  let minRunning = Infinity;
  let maxMoving = 0;
  h.until(
    () => h.live().every((x) => x.nodeId !== 'a') && h.running().length === 6,
    () => {
      minRunning = Math.min(minRunning, h.running().length);
      const slots = new Set(h.live().map((x) => x.slot));
      maxMoving = Math.max(maxMoving, h.live().length - slots.size);
    },
  );
  t.equal(minRunning, 6, 'never fewer than the replicas running');
  t.equal(maxMoving, 1, 'one slot at a time');
  h.s.apply({ op: 'node.availability', ts: h.now, nodeId: 'b', availability: 'pause' });
  h.s.apply({ op: 'service.upsert', ts: h.now, serviceId: 'x', spec: web({ replicas: 8 }) });
  h.until(() => h.running().length === 8);
  t.ok(h.running().filter((x) => x.nodeId === 'c').length >= 5, 'a paused node keeps its tasks but gets no new ones');
});

t.test('a drain in the middle of an update, then a new leader from the committed state: both finish', async (t) => {
  const h = new Harness(['a', 'b', 'c']);
  h.s.apply({ op: 'service.upsert', ts: h.now, serviceId: 's', spec: web({ replicas: 6 }) });
  h.until(() => h.running().length === 6);
  h.s.apply({ op: 'service.upsert', ts: h.now, serviceId: 'x', spec: web({ replicas: 6, image: 'img:2' }) });
  h.until(() => h.running().filter((x) => x.version === 2).length === 2);
  h.s.apply({ op: 'node.availability', ts: h.now, nodeId: 'a', availability: 'drain' });
  for (let k = 0; k < 15; k++) h.round();
  // The new leader knows only what was committed: the state as a snapshot carries it.
  const copy = new ClusterState();
  copy.restore(JSON.parse(JSON.stringify(h.s.toJSON())) as Parameters<ClusterState['restore']>[0]);
  h.s = copy;
  h.until(() => h.svc().update?.state === 'completed' && h.live().every((x) => x.nodeId !== 'a'));
  t.same(h.running().map((x) => x.version), [2, 2, 2, 2, 2, 2], 'six tasks of the new version');
  t.equal(h.running().filter((x) => x.nodeId === 'a').length, 0, 'none on the drained node');
  t.equal(new Set(h.running().map((x) => x.slot)).size, 6, 'one per slot');
});

t.test('pending work is placed again when capacity is freed or a node is activated', async (t) => {
  const h = new Harness(['a'], 2);
  h.s.apply({ op: 'service.upsert', ts: h.now, serviceId: 's', spec: web({ replicas: 3, resources: { cpu: 1 } }) });
  h.until(() => h.running().length === 2);
  h.round();
  const waiting = h.live().find((x) => x.state === 'pending')!;
  t.match(waiting.reason, /cpu/, `the third waits with a reason: ${waiting.reason}`);
  h.s.apply({ op: 'node.register', ts: h.now, node: { id: 'b', name: 'b', address: 'b.invalid:1', labels: {}, capacity: { cpu: 2, memory: 2 ** 34, disk: 2 ** 40 } } });
  h.s.apply({ op: 'node.availability', ts: h.now, nodeId: 'b', availability: 'pause' });
  h.s.apply({ op: 'service.upsert', ts: h.now, serviceId: 'x', spec: web({ replicas: 4, resources: { cpu: 1 } }) });
  h.until(() => h.live().filter((x) => x.state === 'pending' && x.reason !== null).length === 2);
  t.pass('four replicas on a full node and a paused one: two wait');
  h.s.apply({ op: 'node.availability', ts: h.now, nodeId: 'b', availability: 'active' });
  h.until(() => h.running().length === 4);
  t.same(h.running().filter((x) => x.nodeId === 'b').length, 2, 'activated: both placed on b');
  h.s.apply({ op: 'service.upsert', ts: h.now, serviceId: 'x', spec: web({ replicas: 5, resources: { cpu: 1 } }) });
  h.until(() => h.live().some((x) => x.state === 'pending' && x.reason !== null));
  const five = h.live().find((x) => x.state === 'pending')!;
  h.s.apply({ op: 'task.report', ts: h.now, nodeId: 'a', reports: [{ taskId: h.running().find((x) => x.nodeId === 'a')!.id, state: 'complete', exitCode: 0 }] });
  h.until(() => h.s.tasks.get(five.id)!.state === 'running');
  t.pass('a task that ends frees its cpu: the waiting one is placed');
});

t.test('a slot keeps its last 5 tasks; the failure count survives the pruning', async (t) => {
  const h = new Harness(['a']);
  h.s.apply({ op: 'service.upsert', ts: h.now, serviceId: 's', spec: web({ replicas: 1, restart: { delay: '10ms', maxAttempts: 8 } }) });
  h.fails = () => true;
  h.until(() => h.live().length === 0 && plan(h.s, h.now + 1e9).create.length === 0 && [...h.s.tasks.values()].length <= 5, () => undefined, 5000);
  const kept = [...h.s.tasks.values()].sort((a, b) => b.createdAt - a.createdAt);
  t.equal(kept.length, 5, 'five tasks kept');
  t.equal(kept[0].restarts, 8, 'the newest is the eighth restart: maxAttempts 8 then no more');
});

t.test('plan and placement: one task per slot, spread over the least loaded ready nodes', async (t) => {
  const s = new ClusterState();
  s.apply({ op: 'service.upsert', ts: 1, serviceId: 's1', spec: normalizeSpec({ name: 'web', image: 'x', replicas: 3 }) });
  let n = 0;
  const p = plan(s, 1, () => `t${++n}`);
  t.same(p.create.map((c) => c.slot), [1, 2, 3]);
  s.apply({ op: 'task.create', ts: 2, tasks: p.create });
  t.match(placePending(s).unplaced[0]?.reason ?? '', /no worker/, 'no worker: the reason is proposed');
  for (const id of ['a', 'b']) s.apply({ op: 'node.register', ts: 3, node: { id, name: id, address: `${id}.invalid:1`, labels: {}, capacity: { cpu: 1, memory: 1, disk: 1 } } });
  const placed = placePending(s);
  t.equal(placed.assignments.length, 3);
  const per = new Map<string, number>();
  for (const a of placed.assignments) per.set(a.nodeId, (per.get(a.nodeId) ?? 0) + 1);
  t.same([...per.values()].sort(), [1, 2], 'spread 2 and 1');
  s.apply({ op: 'node.status', ts: 4, nodes: [{ id: 'a', status: 'down' }] });
  t.ok(placePending(s).assignments.every((a) => a.nodeId === 'b'), 'a down node gets nothing');
  t.same(plan(s, 5).create, [], 'nothing more to create');
});

t.test('the reconciler acts on each applied change, not only on its interval', async (t) => {
  // A log of one: each proposal applies at once. The interval is an hour, so whatever happens
  // here happens because the state changed.
  const state = new ManagerState();
  let index = 0;
  const node = {
    isLeader: () => true,
    isReadyLeader: () => true,
    propose: async (data: Uint8Array) => state.apply({ term: 1, index: ++index, type: 0, data }),
  } as unknown as RaftNode;
  const apply = (cmd: Command) => node.propose(ManagerState.encode({ ...cmd, id: `c${index}` } as Envelope));
  const r = new Reconciler({ node, state, addresses: new Map(), self: 1, net: { url: () => '', manager: () => undefined, worker: () => undefined } }, 'spread', 3_600_000);
  r.start();
  t.teardown(() => r.stop());
  await apply({ op: 'node.register', ts: 1, node: { id: 'n1', name: 'n1', address: '127.0.0.1:1', labels: {}, capacity: { cpu: 4, memory: 4 << 30, disk: 0 } } });
  await apply({ op: 'service.upsert', ts: 2, serviceId: 's1', spec: normalizeSpec({ name: 'web', image: 'busybox', replicas: 3 }) });
  const deadline = Date.now() + 5_000;
  const assigned = () => [...state.cluster.tasks.values()].filter((x) => x.state === 'assigned').length;
  while (assigned() < 3 && Date.now() < deadline) await new Promise((res) => setImmediate(res));
  t.equal(assigned(), 3, 'three tasks created and placed, in two rounds, with no interval tick');
  t.ok(r.rounds >= 2, `rounds: ${r.rounds}`);
});
