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
