// Workers on a real Docker engine: 3 managers and 2 workers as processes run a service's tasks as
// labelled, limited containers; exits, worker restarts and leader kills are handled.
import t from 'tap';
import { containersOf, dockerCluster, runningTasks, sleep, until } from '../helpers/docker-cluster.js';
import type { Task as TaskInfo } from '../../src/api/tasks.js';

const setup = dockerCluster;
const running = runningTasks;

t.test('three replicas run as labelled, limited containers; orch stop removes them', async (t) => {
  const svc = `sleep-${process.pid}`;
  const { docker, c, client } = await setup(t, svc);
  const { execFile } = await import('node:child_process');
  const { ORCH_BIN } = await import('../helpers/cluster.js');
  const orch = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, [ORCH_BIN, args[0], '--manager', c.addresses.join(','), ...args.slice(1)], (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr })),
  );
  const run = await orch(['run', 'orch/busybox:latest', '--name', svc, '--replicas', '3', '--memory', '48MiB', '--cpu', '0.25', '--network', 'none', '--wait', '--timeout', '30s', '--', 'sleep', '3600']);
  t.equal(run.code, 0, `orch run ... --wait -- sleep 3600 succeeded ${run.stderr.trim()}`);
  const listed = JSON.parse((await orch(['list', '--service', svc, '--json'])).stdout) as TaskInfo[];
  t.equal(listed.filter((x) => x.state === 'running' && x.nodeId && x.containerId).length, 3, 'orch list shows 3 running tasks with node and container id');
  const tasks = await running(client, svc, 3);
  t.equal(new Set(tasks.map((x) => x.nodeId)).size, 2, 'spread over both workers');
  t.ok(tasks.every((x) => x.containerId), 'each running task has its container id');
  const cs = await containersOf(docker, svc);
  t.equal(cs.length, 3, 'docker ps shows 3 containers');
  for (const x of tasks) {
    const info = await docker.getContainer(x.containerId!).inspect();
    t.same(
      { task: info.Config.Labels['orch.task'], service: info.Config.Labels['orch.service'], slot: info.Config.Labels['orch.slot'], node: info.Config.Labels['orch.node'] },
      { task: x.id, service: svc, slot: String(x.slot), node: x.nodeId },
      `container of slot ${x.slot} carries its labels`,
    );
    t.equal(info.HostConfig.Memory, 48 * 2 ** 20, 'memory limit');
    t.equal(info.HostConfig.NanoCpus, 250_000_000, 'cpu limit');
    t.equal(info.HostConfig.Init, true, 'init, for a fast stop');
  }
  const t0 = Date.now();
  t.equal((await orch(['stop', svc])).code, 0, 'orch stop');
  await until(async () => (await containersOf(docker, svc, true)).length === 0);
  t.ok(Date.now() - t0 < 5000, `all containers gone ${Date.now() - t0} ms after orch stop was called`);
});

t.test('docker kill of a task\'s container: reported failed with its exit code within 2 s', async (t) => {
  const svc = `kill-${process.pid}`;
  const { docker, client } = await setup(t, svc);
  await client.createService({ name: svc, image: 'orch/busybox:latest', command: ['sleep', '3600'], replicas: 1, network: 'none', restart: { policy: 'never' } });
  const [task] = await running(client, svc, 1);
  const t0 = Date.now();
  await docker.getContainer(task.containerId!).kill();
  const failed = await until(async () => {
    const x = await client.task(task.id);
    return x.state === 'failed' ? x : false;
  }, 5000);
  const took = Date.now() - t0;
  t.ok(took < 2000, `reported after ${took} ms`);
  t.equal(failed.exitCode, 137, 'with the exit code of SIGKILL');
  t.match(failed.error, /exited with code 137/);
  await sleep(1500);
  t.equal((await client.tasks({ service: svc })).length, 0, 'restart never: no replacement');
});

t.test('a worker killed and restarted while its tasks run: no duplicates, every task accounted for', async (t) => {
  const svc = `restart-${process.pid}`;
  const { docker, host, c, client } = await setup(t, svc);
  await client.createService({ name: svc, image: 'orch/busybox:latest', command: ['sleep', '3600'], replicas: 4, network: 'none' });
  const before = await running(client, svc, 4);
  const w1 = c.workers[0];
  process.kill(w1.pid, 'SIGKILL');
  await w1.exited;
  c.startWorker('w1', host);
  await sleep(3000); // the restarted worker re-adopts and reports
  const after = await running(client, svc, 4);
  const all = await client.tasks({ service: svc, all: true });
  // Back within the heartbeat grace, the worker keeps its tasks; had it been declared down, they
  // would be lost and replaced. Either way every task is accounted for and no slot runs twice.
  for (const b of before) {
    const now = all.find((x) => x.id === b.id);
    t.ok(now && (now.state === 'running' || now.state === 'lost'), `task ${b.id} (slot ${b.slot}) is ${now?.state}`);
  }
  const cs = await containersOf(docker, svc, true);
  t.equal(cs.length, 4, 'exactly 4 containers on the engine');
  t.same(cs.map((x) => x.Labels['orch.slot']).sort(), ['1', '2', '3', '4'], 'one per slot');
  t.same(cs.map((x) => x.Labels['orch.task']).sort(), after.map((x) => x.id).sort(), 'each the container of a running task');
  t.equal((await client.nodes()).filter((n) => n.name === 'w1').length, 1, 'the restarted worker is the same node');
});

t.test('the leader is killed while workers run tasks: they follow the new leader; nothing lost or restarted', async (t) => {
  const svc = `failover-${process.pid}`;
  const { c, client } = await setup(t, svc);
  await client.createService({ name: svc, image: 'orch/busybox:latest', command: ['sleep', '3600'], replicas: 2, network: 'none' });
  const before = await running(client, svc, 2);
  const { index } = await c.waitForLeader();
  await c.kill(index, 'SIGKILL');
  await c.waitForLeader();
  await sleep(4000); // more than 3 heartbeat periods under the new leader
  const nodes = await client.nodes();
  t.ok(nodes.every((n) => n.status === 'ready'), `no node marked down: ${nodes.map((n) => `${n.name}=${n.status}`).join(', ')}`);
  const all = await client.tasks({ service: svc, all: true });
  t.same(all.map((x) => `${x.id}:${x.state}:${x.containerId}`).sort(), before.map((x) => `${x.id}:running:${x.containerId}`).sort(), 'the same tasks, still running in the same containers');
  await client.patchService(svc, { replicas: 3 });
  await running(client, svc, 3);
  t.pass('and the workers take new work from the new leader');
});

t.test('a task whose image does not exist fails with a message a user can act on', async (t) => {
  const svc = `noimage-${process.pid}`;
  const { client } = await setup(t, svc);
  await client.createService({ name: svc, image: '127.0.0.1:9/orch/nginx:1', replicas: 1, network: 'none', restart: { policy: 'never' } });
  const failed = await until(async () => {
    const x = (await client.tasks({ service: svc, all: true }))[0];
    return x && x.state === 'failed' ? x : false;
  });
  t.match(failed.error, /^image 127.0.0.1:9\/orch\/nginx:1 not found locally and could not be pulled: /);
});

t.test('a worker that stops heartbeating is declared down after 3 periods, and ready when it returns', async (t) => {
  const svc = `down-${process.pid}`;
  const { host, c, client } = await setup(t, svc);
  const usage = await until(async () => (await client.nodes()).find((n) => n.name === 'w1' && (n as unknown as { usage: unknown }).usage));
  t.ok(usage, 'the leader shows live usage from heartbeats');
  const w1 = c.workers[0];
  process.kill(w1.pid, 'SIGKILL');
  const t0 = Date.now();
  await until(async () => (await client.nodes()).find((n) => n.name === 'w1')?.status === 'down', 10_000);
  const took = Date.now() - t0;
  t.ok(took >= 2500 && took < 5000, `down after ${took} ms (3 missed heartbeats of 1 s)`);
  c.startWorker('w1', host);
  await until(async () => (await client.nodes()).find((n) => n.name === 'w1')?.status === 'ready', 10_000);
  t.pass('ready again after it came back');
});

t.test('orch logs relays a task\'s output through any manager, also with --follow', async (t) => {
  const svc = `logs-${process.pid}`;
  const { c, client } = await setup(t, svc);
  await client.createService({ name: svc, image: 'orch/busybox:latest', command: ['sh', '-c', 'echo hello-from-orch; i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done'], replicas: 1, network: 'none' });
  const [task] = await running(client, svc, 1);
  const { execFile, spawn } = await import('node:child_process');
  const { ORCH_BIN } = await import('../helpers/cluster.js');
  for (const m of c.addresses) {
    const out = await until(
      () =>
        new Promise<string | false>((resolve) =>
          execFile(process.execPath, [ORCH_BIN, 'logs', task.id, '--manager', m], (err, stdout) => resolve(!err && stdout.includes('tick-1') ? stdout : false)),
        ),
    );
    t.match(out, /^hello-from-orch\ntick-1\n/, `through manager ${m}`);
  }
  const follow = spawn(process.execPath, [ORCH_BIN, 'logs', task.id, '--follow', '--tail', '1', '--manager', c.addresses[0]]);
  let seen = '';
  follow.stdout.on('data', (d: Buffer) => (seen += d.toString()));
  const first = await until(async () => /tick-(\d+)/.exec(seen)?.[1]);
  await until(async () => Number([...seen.matchAll(/tick-(\d+)/g)].pop()?.[1] ?? 0) >= Number(first) + 3);
  follow.kill();
  t.pass(`--follow streamed new lines (from tick-${first} on)`);
  const missing = await new Promise<string>((resolve) => execFile(process.execPath, [ORCH_BIN, 'logs', 'nope', '--manager', c.addresses[1]], (_e, _o, stderr) => resolve(stderr)));
  t.match(missing, /^orch: task nope does not exist \(not-found\)/);
});

t.test('kill -9 of a worker: its tasks run on the other within 5 s; when it returns its old containers go', async (t) => {
  const svc = `loss-${process.pid}`;
  const { docker, host, c, client } = await setup(t, svc);
  await client.createService({ name: svc, image: 'orch/busybox:latest', command: ['sleep', '3600'], replicas: 4, network: 'none' });
  const before = await running(client, svc, 4);
  const w1node = (await client.nodes()).find((n) => n.name === 'w1')!;
  const onW1 = before.filter((x) => x.nodeId === w1node.id);
  t.ok(onW1.length >= 1, `${onW1.length} tasks on w1`);
  const w1 = c.workers[0];
  const t0 = Date.now();
  process.kill(w1.pid, 'SIGKILL');
  const after = await until(async () => {
    const ts = (await client.tasks({ service: svc })).filter((x) => x.state === 'running');
    return ts.length === 4 && ts.every((x) => x.nodeId !== w1node.id) ? ts : false;
  }, 15_000);
  const took = Date.now() - t0;
  t.ok(took < 5000, `all 4 running on the other worker ${took} ms after the kill (target 5 s)`);
  const lost = (await client.tasks({ service: svc, all: true })).filter((x) => x.state === 'lost');
  t.same(lost.map((x) => x.id).sort(), onW1.map((x) => x.id).sort(), 'the killed worker\'s tasks are lost, kept as history');
  c.startWorker('w1', host);
  await until(async () => (await client.nodes()).find((n) => n.name === 'w1')?.status === 'ready');
  // Its old containers (still running under docker after the kill -9) are removed on return.
  await until(async () => (await containersOf(docker, svc, true)).length === 4, 15_000);
  const cs = await containersOf(docker, svc, true);
  const slots = cs.map((x) => x.Labels['orch.slot']).sort();
  t.same(slots, ['1', '2', '3', '4'], 'docker ps: exactly one container per slot');
  t.same(cs.map((x) => x.Labels['orch.task']).sort(), after.map((x) => x.id).sort(), 'and they are the replacements');
});
