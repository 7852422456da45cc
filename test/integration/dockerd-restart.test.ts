// Docker faults, the engine itself: dockerd killed (SIGKILL) and started again under a running worker,
// on an engine of this test's own (--live-restore, so containers outlive dockerd). The runtime's
// event watch comes back and reports an exit that happens after the restart; a worker process
// survives, keeps its running task's container (same id, no replacement, its exec health check not
// failed by the engine's absence), and reports a container
// killed after the restart as failed.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DockerRuntime } from '../../src/worker/runtime/docker.js';
import { normalizeSpec } from '../../src/spec/index.js';
import { ProcessCluster } from '../helpers/cluster.js';
import { sleep, until } from '../helpers/docker-cluster.js';
import { TEST_IMAGE } from '../helpers/docker-engine.js';
import { privateEngine, type PrivateEngine } from '../helpers/private-engine.js';

const LOST = "lost the Docker engine's event stream";
const BACK = "watching the Docker engine's events again";

let engine: PrivateEngine;
t.before(async () => {
  engine = await privateEngine(t);
});

t.test('the runtime\'s event watch reconnects after dockerd is killed and restarted', async (t) => {
  const node = `restart-${randomBytes(4).toString('hex')}`;
  const logs: string[] = [];
  const exits: { taskId: string; containerId: string; exitCode: number }[] = [];
  const rt = new DockerRuntime(engine.docker, node, 1, { log: (m) => logs.push(m) });
  const unwatch = await rt.watch((taskId, containerId, exitCode) => exits.push({ taskId, containerId, exitCode }));
  t.teardown(() => unwatch());
  const spec = normalizeSpec({ name: 'restart', image: TEST_IMAGE, network: 'none', command: ['sleep', '3600'] });
  const taskId = `task-${randomBytes(4).toString('hex')}`;
  const id = await rt.start({ id: taskId, serviceName: 'restart', slot: 1, spec });
  t.teardown(() => engine.docker.getContainer(id).remove({ force: true }).catch(() => undefined));

  await engine.kill();
  await engine.restart();
  t.equal((await engine.docker.getContainer(id).inspect()).State.Running, true, 'the container outlived dockerd (live-restore)');
  t.same(exits, [], 'no exit was reported for it');

  await engine.docker.getContainer(id).kill();
  const exit = await until(async () => exits.find((e) => e.containerId === id), 15_000).catch(() => null);
  t.same(exit, { taskId, containerId: id, exitCode: 137 }, 'its exit after the restart comes through a new stream');
  t.ok(logs.some((l) => l.startsWith(LOST)), `the runtime said it lost the stream: ${logs.find((l) => l.startsWith(LOST))}`);
  t.ok(logs.includes(BACK), 'and that it watches again');
});

t.test('a worker survives dockerd\'s death and restart, keeps its container, and still sees exits', async (t) => {
  const svc = `adopt-${process.pid}`;
  const c = await ProcessCluster.start({ managers: 3 });
  const client = c.client({ deadlineMs: 20_000 });
  t.teardown(async () => {
    await client.close();
    await c.stop();
  });
  await c.waitForLeader(60_000);
  const w = c.startWorker('w1', engine.host);
  await until(async () => (await client.nodes()).some((n) => n.status === 'ready'), 60_000);
  const workerLog = () => readFileSync(w.logFile, 'utf8');

  // An exec health check fails its task after 2 failed probes 300 ms apart: far shorter than the
  // engine's absence, in which a probe cannot even be made (that must not count as a failure).
  const healthCheck = { exec: { command: ['true'] }, interval: '300ms', timeout: '2s', retries: 2 };
  await client.createService({ name: svc, image: TEST_IMAGE, command: ['sleep', '3600'], network: 'none', healthCheck });
  const task = await until(async () => (await client.tasks({ service: svc })).find((x) => x.state === 'running' && x.health === 'healthy'), 30_000);
  const containerId = task.containerId!;

  await engine.kill();
  await engine.restart();
  // The worker reconciles after every assignment poll (at most 3 s apart): give it one full round
  // against the restarted engine, in which it could wrongly replace or fail the task.
  await sleep(3500);
  t.ok(workerLog().includes(LOST) && workerLog().includes(BACK), 'the worker logged that it lost the engine\'s events and watches them again');
  t.ok(w.running, 'the worker process is still running');
  const after = await client.tasks({ service: svc, all: true });
  t.same(after.map((x) => [x.id, x.state, x.containerId, x.health]), [[task.id, 'running', containerId, 'healthy']], 'the same task runs in the same container, healthy: found again, not replaced');
  t.equal((await engine.docker.getContainer(containerId).inspect()).State.Running, true, 'and that container runs on the engine');

  await engine.docker.getContainer(containerId).kill();
  const failed = await until(async () => {
    const x = await client.task(task.id);
    return x.state === 'failed' ? x : false;
  }, 15_000).catch(() => client.task(task.id));
  t.same([failed.exitCode, failed.error], [137, 'exited with code 137'], 'a container killed after the restart is reported failed');
  t.ok(w.running, 'the worker process still runs at the end');
});
