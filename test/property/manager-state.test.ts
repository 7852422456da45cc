// The replicated state machine is deterministic: any sequence of commands gives the same state on
// every replica, and snapshot -> restore -> apply the rest equals applying everything.
import t from 'tap';
import fc from 'fast-check';
import { ManagerState, type Envelope } from '../../src/manager/state/machine.js';
import { normalizeSpec } from '../../src/spec/index.js';

const names = ['web', 'api', 'db'];
const specArb = fc.record({ name: fc.constantFrom(...names), replicas: fc.integer({ min: 0, max: 5 }), image: fc.constantFrom('orch/busybox:latest', 'orch/busybox:2') }).map((r) => normalizeSpec(r));

const commandArb: fc.Arbitrary<Envelope> = fc
  .tuple(
    fc.oneof(
      fc.record({ op: fc.constant('kv.put' as const), key: fc.constantFrom('a', 'b', 'c/d'), value: fc.string({ maxLength: 8 }), cas: fc.option(fc.nat({ max: 30 }), { nil: undefined }) }),
      fc.record({ op: fc.constant('kv.delete' as const), key: fc.constantFrom('a', 'b', 'c/d'), cas: fc.option(fc.nat({ max: 30 }), { nil: undefined }) }),
      fc.record({ op: fc.constant('service.upsert' as const), ts: fc.nat(), serviceId: fc.constantFrom('s1', 's2', 's3', 's4'), spec: specArb, expectVersion: fc.option(fc.nat({ max: 3 }), { nil: undefined }) }),
      fc.record({ op: fc.constant('service.stop' as const), ts: fc.nat(), service: fc.constantFrom(...names, 's1', 'nope') }),
      fc.record({
        op: fc.constant('task.create' as const),
        ts: fc.nat(),
        tasks: fc.array(fc.record({ id: fc.constantFrom('t1', 't2', 't3', 't4', 't5'), serviceId: fc.constantFrom('s1', 's2', 's3'), slot: fc.integer({ min: 1, max: 5 }), version: fc.integer({ min: 1, max: 3 }) }), { maxLength: 3 }),
      }),
      fc.record({ op: fc.constant('task.shutdown' as const), ts: fc.nat(), ids: fc.array(fc.constantFrom('t1', 't2', 't3', 't9')), terminal: fc.array(fc.constantFrom('t1', 't2', 't4')) }),
      fc.record({ op: fc.constant('service.update' as const), ts: fc.nat(), serviceId: fc.constantFrom('s1', 's2', 'web', 'nope'), to: fc.integer({ min: 1, max: 3 }), action: fc.constantFrom('complete' as const, 'pause' as const, 'rollback' as const), message: fc.option(fc.string({ maxLength: 5 }), { nil: null }) }),
      fc.record({ op: fc.constant('task.remove' as const), ts: fc.nat(), ids: fc.array(fc.constantFrom('t1', 't2', 't3', 't9'), { maxLength: 3 }) }),
      fc.record({ op: fc.constant('node.register' as const), ts: fc.nat(), node: fc.record({ id: fc.constantFrom('n1', 'n2'), name: fc.constantFrom('n1', 'n2'), address: fc.constant('127.0.0.1:1'), labels: fc.constant({}), capacity: fc.constant({ cpu: 2, memory: 2 ** 30, disk: 2 ** 30 }) }) }),
      fc.record({ op: fc.constant('node.availability' as const), ts: fc.nat(), nodeId: fc.constantFrom('n1', 'n2', 'n9'), availability: fc.constantFrom('active' as const, 'pause' as const, 'drain' as const) }),
      fc.record({ op: fc.constant('task.assign' as const), ts: fc.nat(), assignments: fc.array(fc.record({ taskId: fc.constantFrom('t1', 't2', 't3', 't4', 't5'), nodeId: fc.constantFrom('n1', 'n2') }), { maxLength: 3 }) }),
      fc.record({
        op: fc.constant('task.report' as const),
        ts: fc.nat(),
        nodeId: fc.constantFrom('n1', 'n2'),
        reports: fc.array(
          fc.record({ taskId: fc.constantFrom('t1', 't2', 't3', 't4', 't5'), state: fc.constantFrom('starting' as const, 'running' as const, 'failed' as const, 'shutdown' as const), health: fc.option(fc.constantFrom('healthy' as const, 'unhealthy' as const), { nil: undefined }) }),
          { maxLength: 3 },
        ),
      }),
    ),
    // A small id space, so that retries (the same idempotency key) happen.
    fc.constantFrom('k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9', 'k10', 'k11', 'k12'),
  )
  .map(([cmd, id]) => ({ ...cmd, id }) as Envelope);

function run(cmds: Envelope[], from = 0, st = new ManagerState()): { st: ManagerState; results: string[] } {
  const results: string[] = [];
  cmds.forEach((c, k) => {
    if (k < from) return;
    results.push(JSON.stringify(st.apply({ term: 1, index: k + 1, type: 0, data: ManagerState.encode(c) })));
  });
  return { st, results };
}

t.test('replicas agree, and snapshot + restore + the rest equals everything', async (t) => {
  let checked = 0;
  fc.assert(
    fc.property(fc.array(commandArb, { maxLength: 60 }), fc.nat(), (cmds, cut) => {
      const a = run(cmds);
      const b = run(cmds);
      if (Buffer.compare(Buffer.from(a.st.snapshot()), Buffer.from(b.st.snapshot())) !== 0) throw new Error('two replicas differ');
      if (a.results.join() !== b.results.join()) throw new Error('results differ');
      const k = cmds.length ? cut % (cmds.length + 1) : 0;
      const first = run(cmds.slice(0, k));
      const restored = new ManagerState();
      restored.restore(first.st.snapshot());
      const rest = run(cmds, k, restored);
      if (Buffer.compare(Buffer.from(rest.st.snapshot()), Buffer.from(a.st.snapshot())) !== 0) throw new Error(`restore at ${k} then the rest differs from applying everything`);
      if (rest.results.join() !== a.results.slice(k).join()) throw new Error('results after restore differ');
      checked++;
    }),
    { numRuns: 500, seed: 424242 },
  );
  t.equal(checked, 500, '500 command sequences (seed 424242)');
});

t.test('a retried command acts once and answers the first result', async (t) => {
  const spec = normalizeSpec({ name: 'web', image: 'orch/busybox:latest', replicas: 2 });
  const cmd: Envelope = { op: 'service.upsert', ts: 1, serviceId: 'first', spec, id: 'retry' };
  const { st, results } = run([cmd, { ...cmd, ts: 99, serviceId: 'second' }]);
  t.equal(results[0], results[1]);
  t.equal(st.cluster.services.size, 1);
  t.ok(st.cluster.services.has('first'));
});
