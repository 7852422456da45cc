// Placement over random clusters and task sets (fast-check; the seed is printed on failure).
import t from 'tap';
import fc from 'fast-check';
import { matchesConstraint, schedule, type PlacedTask, type SchedNode, type SchedTask, type Strategy } from '../../src/scheduler/index.js';

const GiB = 2 ** 30;
const strategies: Strategy[] = ['spread', 'binpack', 'epvm', 'round-robin'];

const nodeArb = (id: number): fc.Arbitrary<SchedNode> =>
  fc.record({
    id: fc.constant(`n${String(id).padStart(3, '0')}`),
    name: fc.constant(`w${id}`),
    labels: fc.record({ zone: fc.constantFrom('a', 'b', 'c') }),
    status: fc.constantFrom('ready', 'ready', 'ready', 'down') as fc.Arbitrary<'ready' | 'down'>,
    availability: fc.constantFrom('active', 'active', 'active', 'pause', 'drain') as fc.Arbitrary<'active' | 'pause' | 'drain'>,
    capacity: fc.record({ cpu: fc.integer({ min: 1, max: 16 }), memory: fc.integer({ min: 1, max: 64 }).map((g) => g * GiB), disk: fc.constant(100 * GiB) }),
    usage: fc.option(fc.record({ cpu: fc.double({ min: 0, max: 8, noNaN: true }), memory: fc.integer({ min: 0, max: 8 }).map((g) => g * GiB) }), { nil: null }),
  });

const clusterArb = fc.integer({ min: 0, max: 12 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, k) => nodeArb(k))));

const taskArb = (k: number): fc.Arbitrary<SchedTask> =>
  fc.record({
    id: fc.constant(`t${k}`),
    serviceId: fc.constantFrom('s1', 's2', 's3'),
    resources: fc.record({ cpu: fc.constantFrom(0, 0.5, 1, 2, 4), memory: fc.constantFrom(0, 1, 2, 8).map((g) => g * GiB), disk: fc.constant(0) }),
    constraints: fc.array(fc.record({ field: fc.constant('label' as const), label: fc.constant('zone'), op: fc.constantFrom('==', '!=') as fc.Arbitrary<'==' | '!='>, value: fc.constantFrom('a', 'b', 'c') }), { maxLength: 1 }),
    ports: fc.array(fc.record({ port: fc.constantFrom(80, 443, 8080), protocol: fc.constant('tcp' as const) }), { maxLength: 1 }),
    strategy: fc.option(fc.constantFrom(...strategies), { nil: null }),
  });

const tasksArb = fc.integer({ min: 0, max: 40 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, k) => taskArb(k))));

t.test('placements respect capacity, constraints, ports and node state; same input, same output', async (t) => {
  let placedTotal = 0;
  fc.assert(
    fc.property(clusterArb, tasksArb, fc.constantFrom(...strategies), (nodes, tasks, strategy) => {
      const input = { nodes, tasks, placed: [] as PlacedTask[], strategy };
      const a = schedule(input);
      const b = schedule(structuredClone(input));
      if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error('not deterministic');
      const byId = new Map(nodes.map((n) => [n.id, n]));
      const used = new Map(nodes.map((n) => [n.id, { cpu: 0, memory: 0, disk: 0, ports: new Set<string>() }]));
      const taskById = new Map(tasks.map((x) => [x.id, x]));
      for (const { taskId, nodeId } of a.assignments) {
        const n = byId.get(nodeId)!;
        const task = taskById.get(taskId)!;
        if (n.status !== 'ready' || n.availability !== 'active') throw new Error(`${taskId} placed on ${n.status}/${n.availability} node ${nodeId}`);
        for (const c of task.constraints) if (!matchesConstraint(c, n)) throw new Error(`${taskId} violates a constraint on ${nodeId}`);
        const u = used.get(nodeId)!;
        for (const k of ['cpu', 'memory', 'disk'] as const) {
          u[k] += task.resources[k];
          if (u[k] > n.capacity[k] + 1e-9) throw new Error(`${nodeId} over capacity in ${k}`);
        }
        for (const p of task.ports) {
          const key = `${p.port}/${p.protocol}`;
          if (u.ports.has(key)) throw new Error(`port ${key} used twice on ${nodeId}`);
          u.ports.add(key);
        }
      }
      if (a.assignments.length + a.unplaced.length !== tasks.length) throw new Error('a task was neither placed nor explained');
      if (a.unplaced.some((u) => !u.reason)) throw new Error('an unplaced task without a reason');
      placedTotal += a.assignments.length;
    }),
    { numRuns: 500, seed: 20261123 },
  );
  t.ok(placedTotal > 1000, `${placedTotal} placements checked in 500 random clusters (seed 20261123)`);
});

t.test('spread keeps a service within one task of even where capacity allows', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 200 }), (n, k) => {
      const nodes = Array.from({ length: n }, (_, i): SchedNode => ({ id: `n${String(i).padStart(2, '0')}`, name: `w${i}`, labels: {}, status: 'ready', availability: 'active', capacity: { cpu: 64, memory: 64 * GiB, disk: GiB }, usage: null }));
      const tasks = Array.from({ length: k }, (_, i): SchedTask => ({ id: `t${i}`, serviceId: 's', resources: { cpu: 0.1, memory: 0, disk: 0 }, constraints: [], ports: [], strategy: null }));
      const res = schedule({ nodes, tasks, placed: [], strategy: 'spread' });
      const counts = nodes.map((x) => res.assignments.filter((a) => a.nodeId === x.id).length);
      if (Math.max(...counts) - Math.min(...counts) > 1) throw new Error(`uneven: ${counts}`);
    }),
    { numRuns: 300, seed: 7 },
  );
  t.pass('300 cases (seed 7)');
});

t.test('binpack on identical empty nodes uses the fewest nodes that can hold the tasks', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 8 }), (n, k, perNode) => {
      const nodes = Array.from({ length: n }, (_, i): SchedNode => ({ id: `n${String(i).padStart(2, '0')}`, name: `w${i}`, labels: {}, status: 'ready', availability: 'active', capacity: { cpu: perNode, memory: 64 * GiB, disk: GiB }, usage: null }));
      const tasks = Array.from({ length: k }, (_, i): SchedTask => ({ id: `t${i}`, serviceId: `s${i % 3}`, resources: { cpu: 1, memory: GiB, disk: 0 }, constraints: [], ports: [], strategy: null }));
      const res = schedule({ nodes, tasks, placed: [], strategy: 'binpack' });
      const fit = Math.min(k, n * perNode);
      if (res.assignments.length !== fit) throw new Error(`placed ${res.assignments.length}, expected ${fit}`);
      const usedNodes = new Set(res.assignments.map((a) => a.nodeId)).size;
      if (usedNodes !== Math.ceil(fit / perNode)) throw new Error(`used ${usedNodes} nodes for ${fit} tasks of 1 cpu on ${perNode}-cpu nodes`);
    }),
    { numRuns: 300, seed: 11 },
  );
  t.pass('300 cases (seed 11)');
});
