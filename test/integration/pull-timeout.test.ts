// Docker faults, image pulls: a registry on 127.0.0.1 that accepts the connection and never answers
// (dockerd takes 127.0.0.0/8 registries as insecure, so it really connects). With the worker's
// --pull-timeout 5s the task fails saying so, another task with a local image starts meanwhile, and
// the replacement task pulls again (a failed pull is not remembered for the worker's life).
import t from 'tap';
import { createServer, type Socket } from 'node:net';
import { dockerCluster, runningTasks, until } from '../helpers/docker-cluster.js';
import { TEST_IMAGE } from '../helpers/docker-engine.js';

const PULL_TIMEOUT_S = 5;

/** A "registry" that accepts connections, counts them, and never says a word. */
async function silentRegistry(t: { teardown(f: () => unknown): void }) {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const port = (server.address() as { port: number }).port;
  return { port, connections: () => connections };
}

t.test('a pull that hangs times out and fails its task, blocks no other task, and is tried again', async (t) => {
  const hang = `hang-${process.pid}`;
  const local = `local-${process.pid}`;
  const registry = await silentRegistry(t);
  const { client } = await dockerCluster(t, local, 1, ['--pull-timeout', `${PULL_TIMEOUT_S}s`]);
  const image = `127.0.0.1:${registry.port}/orch-never/answers:latest`;
  await client.createService({ name: hang, image, command: ['true'], network: 'none', restart: { policy: 'on-failure', delay: '200ms' } });
  await until(async () => registry.connections() >= 1, 30_000);
  const pullingSince = Date.now();

  await client.createService({ name: local, image: TEST_IMAGE, command: ['sleep', '3600'], network: 'none' });
  await runningTasks(client, local, 1, 30_000);
  const [first] = (await client.tasks({ service: hang, all: true })).sort((a, b) => a.createdAt - b.createdAt);
  t.ok(first && first.state !== 'failed', `the local image's task runs while the first pull still hangs (that task is ${first?.state}, ${Date.now() - pullingSince} ms into its pull)`);

  const failed = await until(async () => {
    const x = await client.task(first.id);
    return x.state === 'failed' ? x : false;
  }, 60_000);
  const took = Date.now() - pullingSince;
  t.match(failed.error, new RegExp(`^image ${image.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} could not be pulled: no progress for ${PULL_TIMEOUT_S} s \\(the worker's --pull-timeout\\)`), `the task says why: ${failed.error}`);
  t.ok(took >= PULL_TIMEOUT_S * 1000 - 500, `not before the timeout (${took} ms)`);
  t.ok(took < PULL_TIMEOUT_S * 1000 + 20_000, `nor long after it (${took} ms)`);

  // The replacement task (restart policy) must wait on a pull of its own, not fail at once with the
  // first pull's remembered failure. (Connections alone would not tell: dockerd 20.10 keeps its
  // connection to a silent registry after the pull was given up, and then tries plain HTTP.)
  const second = await until(async () => {
    const x = (await client.tasks({ service: hang, all: true })).find((y) => y.id !== first.id && y.state === 'failed');
    return x ?? false;
  }, 60_000);
  t.match(second.error, /no progress for 5 s/, `the replacement task also timed out: ${second.error}`);
  t.ok(second.updatedAt - second.createdAt >= PULL_TIMEOUT_S * 1000 - 500, `after pulling for the whole timeout again (${second.updatedAt - second.createdAt} ms from creation to failure)`);
  t.ok((await client.tasks({ service: local })).every((x) => x.state === 'running'), 'the local image\'s task still runs');
});
