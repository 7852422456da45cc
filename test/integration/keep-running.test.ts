// [7/11] on a real engine, 3 managers and 2 workers as processes: restart policies with backoff,
// a failing HTTP health check, drain, a rolling update that rolls back, and one that survives the
// leader's death. What runs is checked with `docker ps` labels, not only with the API.
import t from 'tap';
import { freePort } from '../helpers/cluster.js';
import { containersOf, dockerCluster, orchCli, runningTasks, sleep, until } from '../helpers/docker-cluster.js';
import type { Task as TaskInfo } from '../../src/api/tasks.js';

const IMAGE = 'orch/busybox:latest';
const bySlotNewest = (ts: TaskInfo[]) => [...ts].sort((a, b) => a.slot - b.slot || b.createdAt - a.createdAt);

t.test('exit 3 is replaced up to maxAttempts with a growing delay; policy never leaves it failed', async (t) => {
  const svc = `crash-${process.pid}`;
  const never = `never-${process.pid}`;
  const { docker, client } = await dockerCluster(t, svc);
  t.teardown(async () => {
    for (const x of await containersOf(docker, never, true)) await docker.getContainer(x.Id).remove({ force: true });
  });
  const crash = { image: IMAGE, command: ['sh', '-c', 'exit 3'], network: 'none' };
  await client.createService({ name: never, ...crash, restart: { policy: 'never' } });
  await client.createService({ name: svc, ...crash, restart: { policy: 'on-failure', maxAttempts: 2, delay: '400ms' } });
  const tasks = await until(async () => {
    const all = (await client.tasks({ service: svc, all: true })).sort((a, b) => a.createdAt - b.createdAt);
    return all.length === 3 && all.every((x) => x.state === 'failed') ? all : false;
  }, 30_000);
  t.same(tasks.map((x) => [x.slot, x.exitCode, x.restarts]), [[1, 3, 0], [1, 3, 1], [1, 3, 2]], 'the first run and 2 restarts, all in slot 1, all exit 3');
  const gap1 = tasks[1].createdAt - tasks[0].updatedAt;
  const gap2 = tasks[2].createdAt - tasks[1].updatedAt;
  t.ok(gap1 >= 400 && gap2 >= 800, `backoff: replaced ${gap1} ms, then ${gap2} ms after the failure (delay 400 ms, doubling)`);
  // A fourth would come 1.6 s after the third failure: watch for longer than that.
  await sleep(2500);
  t.equal((await client.tasks({ service: svc, all: true })).length, 3, 'maxAttempts 2: no fourth task');
  const n = await client.tasks({ service: never, all: true });
  t.same(n.map((x) => [x.state, x.exitCode]), [['failed', 3]], 'policy never: one task, left failed');
  t.equal((await containersOf(docker, svc)).length + (await containersOf(docker, never)).length, 0, 'no container of either runs');
});

t.test('an HTTP health check that starts failing: the task is stopped, reported failed with why, and replaced', async (t) => {
  const svc = `health-${process.pid}`;
  const { docker, client } = await dockerCluster(t, svc);
  const port = await freePort();
  // Healthy for 3 s, then the page is gone (404). Host networking: reachable on loopback whatever the engine's bridge.
  const script = `mkdir -p /www && echo ok > /www/ok.html && httpd -p 127.0.0.1:${port} -h /www && sleep 3 && rm /www/ok.html && sleep 3600`;
  await client.createService({
    name: svc,
    image: IMAGE,
    command: ['sh', '-c', script],
    network: 'host',
    restart: { delay: '200ms' },
    healthCheck: { http: { port, path: '/ok.html' }, interval: '300ms', timeout: '1s', retries: 2 },
  });
  const first = await until(async () => (await client.tasks({ service: svc })).find((x) => x.health === 'healthy'));
  t.equal(first.state, 'running', 'running and healthy first');
  const failed = await until(async () => {
    const x = await client.task(first.id);
    return x.state === 'failed' ? x : false;
  }, 15_000);
  t.match(failed.error, /health check failed 2 time\(s\) in a row: GET \/ok.html answered 404/, `the reason: ${failed.error}`);
  t.equal(failed.health, 'unhealthy', 'and marked unhealthy');
  const next = await until(async () => (await client.tasks({ service: svc })).find((x) => x.id !== first.id && x.health === 'healthy'), 15_000);
  t.equal(next.slot, first.slot, 'a replacement in the same slot is running and healthy');
  const cs = await containersOf(docker, svc, true);
  t.notOk(cs.some((x) => x.Labels['orch.task'] === first.id), 'the unhealthy task\'s container is removed');
});

t.test('drain moves every task off a node, never fewer than replicas - 1 running; activate takes tasks again', async (t) => {
  const svc = `drain-${process.pid}`;
  const { docker, c, client } = await dockerCluster(t, svc);
  await client.createService({ name: svc, image: IMAGE, command: ['sleep', '3600'], replicas: 4, network: 'none' });
  const before = await runningTasks(client, svc, 4);
  const w1 = (await client.nodes()).find((n) => n.name === 'w1')!;
  t.equal(before.filter((x) => x.nodeId === w1.id).length, 2, 'two of four tasks on w1');
  let lowest = Infinity;
  let lowestDocker = Infinity;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const [s, cs] = await Promise.all([client.service(svc), containersOf(docker, svc)]);
      lowest = Math.min(lowest, s.running);
      lowestDocker = Math.min(lowestDocker, cs.length);
      await sleep(20);
    }
  })();
  const drain = await orchCli(c.addresses, ['node', 'drain', 'w1', '--wait', '--timeout', '60s']);
  watching = false;
  await watcher;
  t.equal(drain.code, 0, `orch node drain w1 --wait: ${drain.stdout.trim()} ${drain.stderr.trim().split('\n').pop()}`);
  t.ok(lowest >= 3, `running tasks never below replicas - 1 by the API (lowest ${lowest})`);
  t.ok(lowestDocker >= 3, `nor by docker ps (lowest ${lowestDocker})`);
  const after = await runningTasks(client, svc, 4);
  t.ok(after.every((x) => x.nodeId !== w1.id), 'no task on w1');
  await until(async () => (await docker.listContainers({ all: true, filters: { label: [`orch.node=${w1.id}`, `orch.service=${svc}`] } })).length === 0);
  t.pass('no container of the service left on w1 (docker ps)');
  t.equal((await orchCli(c.addresses, ['node', 'activate', 'w1'])).code, 0, 'orch node activate w1');
  await client.patchService(svc, { replicas: 6 });
  const six = await runningTasks(client, svc, 6);
  t.ok(six.some((x) => x.nodeId === w1.id), 'an active node gets new tasks again');
});

t.test('a rolling update of 4 replicas to a missing image rolls back; the old image keeps running', async (t) => {
  const svc = `rollback-${process.pid}`;
  const { docker, c, client } = await dockerCluster(t, svc);
  await client.createService({ name: svc, image: IMAGE, command: ['sleep', '3600'], replicas: 4, network: 'none', update: { parallelism: 1, monitor: '1s', failureAction: 'rollback' } });
  const before = await runningTasks(client, svc, 4);
  const up = await orchCli(c.addresses, ['update', svc, '--image', '127.0.0.1:9/orch/does-not-exist:1', '--wait', '--timeout', '60s']);
  t.not(up.code, 0, 'orch update --wait exits non-zero');
  t.match(up.stderr, /rolled back from version 2 to 1: task \w+ of slot \d failed: image 127.0.0.1:9\/orch\/does-not-exist:1 not found locally/, `and says why: ${up.stderr.trim().split('\n').pop()}`);
  const s = await client.service(svc);
  t.same([s.update?.state, s.spec.image, s.taskVersion], ['rolled-back', IMAGE, 1], 'the service is back at its old spec');
  const after = await runningTasks(client, svc, 4);
  t.ok(after.every((x) => x.version === 1), 'four tasks of the old version run');
  t.ok(after.filter((x) => before.some((b) => b.id === x.id)).length >= 3, 'at least three were never touched');
  const cs = await containersOf(docker, svc);
  t.same(cs.map((x) => x.Image).sort(), [IMAGE, IMAGE, IMAGE, IMAGE], 'docker ps: four containers, all of the old image');
  t.same(new Set(cs.map((x) => x.Labels['orch.slot'])).size, 4, 'one per slot');
  const get = await orchCli(c.addresses, ['get', svc]);
  t.match(get.stdout, /rolled back from version 2 to 1: task \w+ of slot \d failed/, 'orch get shows how the update ended');
  t.match(get.stdout, /SLOT\s+VERSION\s+NODE\s+DESIRED\s+STATE\s+HEALTH/, 'and every slot\'s tasks with their version');
  t.match(get.stdout, /failed.*image 127\.0\.0\.1:9\/orch\/does-not-exist:1 not found/, 'the failed new task is in its slot\'s history');
});

t.test('the leader is killed in the middle of a rolling update: the new leader completes it', async (t) => {
  const svc = `failover-${process.pid}`;
  const { docker, c, client } = await dockerCluster(t, svc);
  await docker.getImage(IMAGE).tag({ repo: 'orch/busybox', tag: 'v2' });
  await client.createService({ name: svc, image: IMAGE, command: ['sleep', '3600'], replicas: 4, network: 'none', update: { parallelism: 1, monitor: '1500ms' } });
  await runningTasks(client, svc, 4);
  await client.patchService(svc, { image: 'orch/busybox:v2' });
  const mid = await until(async () => {
    const s = await client.service(svc);
    return s.update && s.update.done >= 1 && s.update.done < 4 ? s : false;
  });
  const { index } = await c.waitForLeader();
  await c.kill(index);
  t.pass(`leader killed with the update at ${mid.update!.done}/4`);
  const done = await until(async () => {
    const s = await client.service(svc);
    return s.update?.state === 'completed' ? s : false;
  }, 40_000);
  t.equal(done.update!.done, 4, 'the update completed under the new leader');
  const tasks = await runningTasks(client, svc, 4);
  t.ok(tasks.every((x) => x.version === 2), 'all four tasks run the new version');
  await until(async () => (await containersOf(docker, svc, true)).length === 4);
  const cs = await containersOf(docker, svc);
  t.same(cs.map((x) => x.Image).sort(), ['orch/busybox:v2', 'orch/busybox:v2', 'orch/busybox:v2', 'orch/busybox:v2'], 'docker ps: four containers of the new image');
  t.same(new Set(cs.map((x) => x.Labels['orch.slot'])).size, 4, 'one per slot');
  const history = bySlotNewest(await client.tasks({ service: svc, all: true }));
  t.ok(history.filter((x) => x.version === 1).every((x) => x.state === 'shutdown'), 'every old task was shut down, none lost or failed');
});
