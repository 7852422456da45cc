// The simulated runtime: one worker process hosts many nodes that join, heartbeat and "run" tasks
// without Docker, for scheduler tests at scale.
import t from 'tap';
import { ProcessCluster } from '../helpers/cluster.js';

t.test('one process with --runtime sim --sim-nodes 20 runs a service of 60 replicas', async (t) => {
  const c = await ProcessCluster.start({ managers: 3 });
  const client = c.client({ deadlineMs: 20_000 });
  t.teardown(async () => {
    await client.close();
    await c.stop();
  });
  await c.waitForLeader();
  c.startWorker('sim', '', 1000, ['--runtime', 'sim', '--sim-nodes', '20', '--sim-cpu', '8', '--sim-memory', '16GiB']);
  const end = Date.now() + 20_000;
  while (Date.now() < end && (await client.nodes()).filter((n) => n.status === 'ready').length < 20) await new Promise((r) => setTimeout(r, 100));
  const nodes = await client.nodes();
  t.equal(nodes.length, 20, '20 nodes joined');
  t.ok(nodes.every((n) => n.capacity.cpu === 8 && n.capacity.memory === 16 * 2 ** 30), 'with the capacity given by flags');
  await client.createService({ name: 'sim', image: 'anything:latest', replicas: 60 });
  let tasks = await client.tasks({ service: 'sim' });
  while (Date.now() < end + 20_000 && tasks.filter((x) => x.state === 'running').length < 60) {
    await new Promise((r) => setTimeout(r, 100));
    tasks = await client.tasks({ service: 'sim' });
  }
  t.equal(tasks.filter((x) => x.state === 'running').length, 60, '60 tasks running');
  const per = new Map<string, number>();
  for (const x of tasks) per.set(x.nodeId!, (per.get(x.nodeId!) ?? 0) + 1);
  t.same([...new Set(per.values())], [3], 'three on each of the 20 nodes');
});

t.test('a task that fits nowhere waits with a reason, and is placed when a fitting node joins', async (t) => {
  const c = await ProcessCluster.start({ managers: 3, extraArgs: ['--scheduler', 'binpack'] });
  const client = c.client({ deadlineMs: 20_000 });
  t.teardown(async () => {
    await client.close();
    await c.stop();
  });
  await c.waitForLeader();
  c.startWorker('east', '', 1000, ['--runtime', 'sim', '--labels', 'zone=a']);
  const until = async (f: () => Promise<boolean>) => {
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      if (await f()) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  };
  t.ok(await until(async () => (await client.nodes()).length === 1), 'one node in zone a');
  await client.createService({ name: 'zoned', image: 'anything:latest', replicas: 2, constraints: ['node.labels.zone == b'] });
  t.ok(
    await until(async () => (await client.tasks({ service: 'zoned' })).every((x) => x.state === 'pending' && x.reason === '1 node(s) filtered by constraint node.labels.zone == b')),
    'pending, with the reason a user reads in orch get',
  );
  c.startWorker('west', '', 1000, ['--runtime', 'sim', '--labels', 'zone=b']);
  t.ok(await until(async () => (await client.tasks({ service: 'zoned' })).filter((x) => x.state === 'running').length === 2), 'placed and running once a node in zone b joined');
  const west = (await client.nodes()).find((n) => n.name === 'west')!;
  t.ok((await client.tasks({ service: 'zoned' })).every((x) => x.nodeId === west.id), 'on that node');
});
