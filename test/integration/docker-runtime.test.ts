// The container operations orch's worker relies on, against a real Docker engine through dockerode:
// create with orch's labels and limits, start, inspect, find by label, stop fast (init), remove; and
// a short-lived container whose exit code and logs are read back.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { dockerEngine, TEST_IMAGE, type Engine } from '../helpers/docker-engine.js';

const MiB = 1024 * 1024;
const run = `${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

/** The engine, or a failed test (never a skip) with the helper's one-line reason. */
async function engine(t: { fail(message: string): unknown }): Promise<Engine | undefined> {
  try {
    return await dockerEngine();
  } catch (e) {
    t.fail(e instanceof Error ? e.message : String(e));
    return undefined;
  }
}

function statusCode(e: unknown): number | undefined {
  return typeof e === 'object' && e !== null && 'statusCode' in e ? Number((e as { statusCode: unknown }).statusCode) : undefined;
}

/** Splits Docker's multiplexed log stream (8-byte frame headers) into stdout and stderr text. */
function demux(buf: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const kind = buf[i]!;
    const size = buf.readUInt32BE(i + 4);
    const frame = buf.subarray(i + 8, i + 8 + size);
    (kind === 2 ? err : out).push(frame);
    i += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

t.test('a labelled, limited container: create, start, inspect, list by label, stop fast, remove', async (t) => {
  const e = await engine(t);
  if (!e) return;
  const { docker } = e;
  const name = `orch-it-runtime-${run}`;
  const labels = {
    'orch.task': `task-${run}`,
    'orch.service': `svc-${run}`,
    'orch.slot': '1',
    'orch.node': `node-${run}`,
  };

  const container = await docker.createContainer({
    name,
    Image: TEST_IMAGE,
    Cmd: ['sleep', '300'],
    Labels: labels,
    HostConfig: { Memory: 64 * MiB, NanoCpus: 250_000_000, Init: true, NetworkMode: 'none' },
  });
  t.teardown(async () => {
    await container.remove({ force: true }).catch(() => undefined);
  });

  await container.start();
  const info = await container.inspect();
  t.equal(info.State.Running, true, 'running after start');
  t.ok(info.State.Pid > 0, 'has a pid');
  t.equal(info.Name, `/${name}`);
  t.match(info.Config.Labels, labels, 'carries the orch labels');
  t.equal(info.HostConfig.Memory, 64 * MiB, 'memory limit is 64 MiB');
  t.equal(info.HostConfig.NanoCpus, 250_000_000, 'cpu limit is 0.25');
  t.equal(info.HostConfig.Init, true, 'runs under an init');
  t.equal(info.HostConfig.NetworkMode, 'none');

  const listed = await docker.listContainers({ all: true, filters: { label: [`orch.task=${labels['orch.task']}`] } });
  t.equal(listed.length, 1, 'exactly one container carries the task label');
  t.equal(listed[0]?.Id, container.id, 'and it is ours');
  const byService = await docker.listContainers({
    filters: { label: [`orch.service=${labels['orch.service']}`, `orch.node=${labels['orch.node']}`] },
  });
  t.same(byService.map((c) => c.Id), [container.id], 'found by service and node labels (running only)');

  const t0 = performance.now();
  await container.stop({ t: 10 });
  const stopMs = performance.now() - t0;
  t.ok(stopMs < 5000, `stop took ${Math.round(stopMs)} ms (< 5 s, because init forwards SIGTERM)`);
  const stopped = await container.inspect();
  t.equal(stopped.State.Running, false, 'not running after stop');
  t.equal(stopped.State.Status, 'exited');

  await container.remove();
  const gone = await container.inspect().then(
    () => 200,
    (err: unknown) => statusCode(err),
  );
  t.equal(gone, 404, 'inspect after remove answers 404');
  const after = await docker.listContainers({ all: true, filters: { label: [`orch.task=${labels['orch.task']}`] } });
  t.equal(after.length, 0, 'no container carries the task label any more');
});

t.test('a container that echoes: exit code 0 and its output in the logs', async (t) => {
  const e = await engine(t);
  if (!e) return;
  const { docker } = e;
  const container = await docker.createContainer({
    name: `orch-it-echo-${run}`,
    Image: TEST_IMAGE,
    Cmd: ['sh', '-c', 'echo hello-orch'],
    Labels: { 'orch.task': `echo-${run}` },
    HostConfig: { NetworkMode: 'none' },
  });
  t.teardown(async () => {
    await container.remove({ force: true }).catch(() => undefined);
  });

  await container.start();
  // wait() answers when the container is not running, also if it exited before the call.
  const result = (await container.wait()) as { StatusCode: number };
  t.equal(result.StatusCode, 0, 'exit code 0');
  const info = await container.inspect();
  t.equal(info.State.Status, 'exited');
  t.equal(info.State.ExitCode, 0);

  const raw = await container.logs({ stdout: true, stderr: true, follow: false });
  const { stdout, stderr } = demux(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
  t.equal(stdout, 'hello-orch\n', 'stdout is the echoed line');
  t.equal(stderr, '', 'nothing on stderr');
});
