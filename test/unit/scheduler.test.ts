// E-PVM against hand-computed values, the reasons of unplaced tasks, and each strategy's choice.
import t from 'tap';
import { EPVM_L, epvmCost, schedule, type SchedNode, type SchedTask } from '../../src/scheduler/index.js';

const GiB = 2 ** 30;

function node(id: string, extra: Partial<SchedNode> = {}): SchedNode {
  return { id, name: id, labels: {}, status: 'ready', availability: 'active', capacity: { cpu: 4, memory: 8 * GiB, disk: 100 * GiB }, usage: null, ...extra };
}

function task(id: string, extra: Partial<SchedTask> = {}): SchedTask {
  return { id, serviceId: 's', resources: { cpu: 1, memory: GiB, disk: 0 }, constraints: [], ports: [], strategy: null, ...extra };
}

t.test('E-PVM cost, by hand', async (t) => {
  // Empty 4-cpu 8 GiB node, task of 1 cpu and 2 GiB: L^(1/4)-1 + L^(2/8)-1 + L^(1/4)-1.
  const L = EPVM_L;
  const expect = L ** 0.25 - 1 + (L ** 0.25 - 1) + (L ** 0.25 - 1);
  t.ok(Math.abs(epvmCost({ cpu: 4, memory: 8 * GiB, disk: 0 }, { cpu: 0, memory: 0, disk: 0 }, null, 0, { cpu: 1, memory: 2 * GiB, disk: 0 }) - expect) < 1e-12, `empty node: ${expect.toFixed(6)}`);
  // Half-reserved node with 2 tasks: L^(3/4)-L^(2/4) + L^(6/8)-L^(4/8) + L^(3/4)-L^(2/4).
  const half = 3 * (L ** 0.75 - L ** 0.5);
  t.ok(Math.abs(epvmCost({ cpu: 4, memory: 8 * GiB, disk: 0 }, { cpu: 2, memory: 4 * GiB, disk: 0 }, null, 2, { cpu: 1, memory: 2 * GiB, disk: 0 }) - half) < 1e-12, `half-full node: ${half.toFixed(6)}`);
  t.ok(half > expect, 'a fuller node costs more (the cost is convex)');
  // Cpu matters (the seeds let its terms cancel): only the cpu differs between these two.
  const busyCpu = epvmCost({ cpu: 4, memory: 8 * GiB, disk: 0 }, { cpu: 3, memory: 0, disk: 0 }, null, 0, { cpu: 1, memory: 0, disk: 0 });
  const idleCpu = epvmCost({ cpu: 4, memory: 8 * GiB, disk: 0 }, { cpu: 0, memory: 0, disk: 0 }, null, 0, { cpu: 1, memory: 0, disk: 0 });
  t.ok(busyCpu > idleCpu, 'cpu changes the cost');
  // Live usage counts when it exceeds reservations; missing stats do not make a node free.
  const used = epvmCost({ cpu: 4, memory: 8 * GiB, disk: 0 }, { cpu: 0, memory: 0, disk: 0 }, { cpu: 3, memory: 0 }, 0, { cpu: 1, memory: 0, disk: 0 });
  t.ok(Math.abs(used - busyCpu) < 1e-12, 'a node using 3 cpus unreserved costs as one with 3 reserved');
  t.ok(epvmCost({ cpu: 4, memory: 8 * GiB, disk: 0 }, { cpu: 3, memory: 0, disk: 0 }, null, 0, { cpu: 1, memory: 0, disk: 0 }) > 0, 'a node without stats does not score 0');
});

t.test('strategies', async (t) => {
  const nodes = [node('a'), node('b'), node('c')];
  const tasks = [task('1'), task('2'), task('3'), task('4')];
  const spread = schedule({ nodes, placed: [], tasks, strategy: 'spread' });
  t.same(spread.assignments.map((x) => x.nodeId), ['a', 'b', 'c', 'a'], 'spread: one per node, then around');
  const binpack = schedule({ nodes, placed: [], tasks, strategy: 'binpack' });
  t.same(binpack.assignments.map((x) => x.nodeId), ['a', 'a', 'a', 'a'], 'binpack: fill one node (4 cpus)');
  const rr = schedule({ nodes, placed: [], tasks, strategy: 'round-robin', cursor: 'a' });
  t.same(rr.assignments.map((x) => x.nodeId), ['b', 'c', 'a', 'b'], 'round-robin: alternate from the cursor');
  t.equal(rr.cursor, 'b');
  const epvm = schedule({ nodes: [node('a', { usage: { cpu: 3.5, memory: 0 } }), node('b')], placed: [], tasks: [task('1')], strategy: 'epvm' });
  t.same(epvm.assignments.map((x) => x.nodeId), ['b'], 'epvm: away from the node busy with unreserved work');
  const perService = schedule({ nodes, placed: [], tasks: [task('1', { strategy: 'binpack' }), task('2', { strategy: 'binpack' })], strategy: 'spread' });
  t.same(perService.assignments.map((x) => x.nodeId), ['a', 'a'], 'a service\'s own strategy wins over the cluster\'s');
});

t.test('filters and the reasons of unplaced tasks', async (t) => {
  const nodes = [node('a', { labels: { zone: 'a' } }), node('b', { labels: { zone: 'b' } }), node('c', { status: 'down' }), node('d', { availability: 'drain' }), node('e', { availability: 'pause' })];
  const big = schedule({ nodes, placed: [], tasks: [task('big', { resources: { cpu: 1, memory: 16 * GiB, disk: 0 } })], strategy: 'spread' });
  t.same(big.unplaced, [{ taskId: 'big', reason: 'no node has 16 GiB free memory (2 too full); 3 node(s) not ready or not active' }]);
  const zoned = schedule({ nodes, placed: [], tasks: [task('z', { constraints: [{ field: 'label', label: 'zone', op: '==', value: 'c' }] })], strategy: 'spread' });
  t.same(zoned.unplaced[0].reason, '2 node(s) filtered by constraint node.labels.zone == c; 3 node(s) not ready or not active');
  const ok = schedule({ nodes, placed: [], tasks: [task('z', { constraints: [{ field: 'label', label: 'zone', op: '!=', value: 'a' }] })], strategy: 'spread' });
  t.same(ok.assignments, [{ taskId: 'z', nodeId: 'b' }], 'a != constraint');
  const ports = schedule({ nodes: [node('a')], placed: [{ nodeId: 'a', serviceId: 'x', resources: { cpu: 0, memory: 0, disk: 0 }, ports: [{ port: 80, protocol: 'tcp' }] }], tasks: [task('p', { ports: [{ port: 80, protocol: 'tcp' }] }), task('q', { ports: [{ port: 80, protocol: 'udp' }] })], strategy: 'spread' });
  t.same(ports.unplaced, [{ taskId: 'p', reason: '1 node(s) already use host port 80/tcp' }]);
  t.same(ports.assignments, [{ taskId: 'q', nodeId: 'a' }], 'udp 80 is another port');
  t.same(schedule({ nodes: [], placed: [], tasks: [task('x')], strategy: 'spread' }).unplaced[0].reason, 'no worker has joined the cluster yet');
});
