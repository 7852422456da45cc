// Long-dead nodes, tried with real manager and worker processes: a node down for longer than
// --node-remove-after is removed from the state (and the event stream says so), while a live node
// stays; a down node is not brought back by a change of leader (which would also restart its clock).
import t from 'tap';
import { request } from 'undici';
import type { OrchClient } from '../../src/client/client.js';
import { until } from '../helpers/docker-cluster.js';
import { readyCluster } from '../helpers/ready-cluster.js';

const statusOf = async (client: OrchClient, name: string) => (await client.nodes()).find((n) => n.name === name)?.status ?? 'absent';

t.test('a node down for longer than --node-remove-after is removed; a live one stays', async (t) => {
  const { c, client } = await readyCluster(t, { managers: 1, extraArgs: ['--node-remove-after', '2s', '--worker-heartbeat-ms', '100', '--worker-missed', '3'] });
  const dead = c.startWorker('dead', '', 100, ['--runtime', 'sim']);
  c.startWorker('live', '', 100, ['--runtime', 'sim']);
  await until(async () => (await statusOf(client, 'dead')) === 'ready' && (await statusOf(client, 'live')) === 'ready', 20_000);
  process.kill(dead.pid, 'SIGKILL');
  await until(async () => (await statusOf(client, 'dead')) === 'down', 10_000);
  const down = Date.now();
  await until(async () => (await statusOf(client, 'dead')) === 'absent', 15_000);
  const after = Date.now() - down;
  t.ok(after >= 1_500, `removed ${after} ms after it was seen down, not before --node-remove-after (2 s)`);
  t.equal(await statusOf(client, 'live'), 'ready', 'the live node is still there');
  const events = await (await request(`http://${c.addresses[0]}/v1/events`)).body.text();
  t.match(events, /"type":"node","action":"removed","id":"[0-9a-f]{12}","name":"dead"/, 'the event stream shows the removal');
});

t.test('a down node stays down across a change of leader', async (t) => {
  const { c, client } = await readyCluster(t, { managers: 3, extraArgs: ['--node-remove-after', '0', '--worker-heartbeat-ms', '300', '--worker-missed', '3'] });
  const w = c.startWorker('w1', '', 300, ['--runtime', 'sim']);
  await until(async () => (await statusOf(client, 'w1')) === 'ready', 20_000);
  process.kill(w.pid, 'SIGKILL');
  await until(async () => (await statusOf(client, 'w1')) === 'down', 10_000);
  const { index: old } = await c.waitForLeader();
  await c.kill(old);
  await c.waitForLeader(15_000);
  // The new leader's grace (3 x 300 ms) and a few of its checks: the node must never read ready.
  const seen = new Set<string>();
  const end = Date.now() + 3_000;
  while (Date.now() < end) {
    seen.add(await statusOf(client, 'w1'));
    await new Promise((r) => setTimeout(r, 50));
  }
  t.same([...seen], ['down'], 'it read down throughout, under the new leader');
  c.startWorker('w1', '', 300, ['--runtime', 'sim']);
  await until(async () => (await statusOf(client, 'w1')) === 'ready', 20_000);
  t.pass('and comes back ready once its worker beats again');
});
