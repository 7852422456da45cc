// Workers against a TLS cluster of real processes on the real Docker engine, attacked from outside:
// a report the managers would refuse cannot wedge a node; a node removed with --force takes its
// containers down within 10 s; a worker re-joined under a new id (wiped data dir) removes what it
// ran under the old one; nobody can join under an existing node's id; and a second agent on a copy
// of a worker's data dir is refused while the first keeps working.
import t from 'tap';
import { spawn } from 'node:child_process';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { ORCH_BIN, ProcessCluster } from '../helpers/cluster.js';
import { orchCli, runningTasks, until } from '../helpers/docker-cluster.js';
import { dockerEngine } from '../helpers/docker-engine.js';
import { createRequest } from '../../src/security/pki.js';

const HEARTBEAT_MS = 1000;
const PREFIX = `wid${process.pid}`;
const busybox = 'orch/busybox:latest';

t.test('worker identity and reports on a TLS cluster', async (t) => {
  const { docker, host } = await dockerEngine();
  // --allow-privileged: a bind mount of a missing host path is what makes Docker's error huge.
  const c = await ProcessCluster.start({ secure: true, managers: 3, extraArgs: ['--allow-privileged'] });
  const client = c.client({ deadlineMs: 20_000 });
  t.teardown(async () => {
    await client.close();
    await c.stop();
    for (const x of await docker.listContainers({ all: true, filters: { label: ['orch.service'] } })) {
      if (x.Labels['orch.service'].startsWith(PREFIX)) await docker.getContainer(x.Id).remove({ force: true }).catch(() => undefined);
    }
  });
  await c.waitForLeader(30_000);
  const tokens = c.tokens();
  const ca = readFileSync(join(c.managers[0].dataDir, 'tls', 'ca.pem'), 'utf8');

  const startWorker = (name: string) => c.startWorker(name, host, HEARTBEAT_MS, ['--labels', `role=${name}`]);
  const nodeOf = (name: string) => until(async () => (await client.nodes()).find((n) => n.name === name && n.status === 'ready'), 30_000);
  const on = (role: string) => [`node.labels.role == ${role}`];
  const containersOfNode = (id: string) => docker.listContainers({ all: true, filters: { label: [`orch.node=${id}`] } });
  const logOf = (name: string) => readFileSync(c.workers.find((w) => w.name === name)!.logFile, 'utf8');

  /** POST /v1/join as an outsider holding the worker token. */
  async function join_(name: string): Promise<{ status: number; code?: string; message?: string }> {
    const agent = new Agent({ connect: { ca, checkServerIdentity: () => undefined } });
    try {
      const csr = (await createRequest(name)).csrPem;
      const res = await request(`https://${c.addresses[0]}/v1/join`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: tokens.worker, role: 'worker', csr, name }), dispatcher: agent });
      const json = (await res.body.json()) as { error?: { code: string; message: string } };
      return { status: res.statusCode, code: json.error?.code, message: json.error?.message };
    } finally {
      await agent.close();
    }
  }

  for (const name of ['wedge', 'victim', 'keeper']) startWorker(name);
  const [wedge, victim, keeper] = await Promise.all(['wedge', 'victim', 'keeper'].map(nodeOf));

  await t.test('a task whose failure message is far over the limit: it lands cut, the node stays ready, later reports land', async (t) => {
    const svc = `${PREFIX}-huge`;
    const missing = `/${'m'.repeat(4000)}`;
    await client.createService({ name: svc, image: busybox, command: ['sleep', '3600'], network: 'none', constraints: on('wedge'), restart: { policy: 'never' }, mounts: [{ source: missing, target: '/x' }] });
    const failed = await until(async () => (await client.tasks({ service: svc, all: true })).find((x) => x.state === 'failed'), 20_000);
    t.match(failed.error, /did not start/, 'the engine\'s refusal is reported');
    t.ok(failed.error!.length <= 4096, `cut to ${failed.error!.length} characters (Docker said over 8,000)`);
    t.match(failed.error, /\[cut\]$/, 'and marked as cut');
    // Three missed heartbeats make a node down: watch it for longer than that.
    const until_ = Date.now() + 4 * HEARTBEAT_MS;
    let polls = 0;
    while (Date.now() < until_ && polls < 200) {
      const n = (await client.nodes()).find((x) => x.id === wedge.id);
      t.equal(n?.status, 'ready', `${wedge.name} is ready`, { diagnostic: n?.status !== 'ready' });
      if (n?.status !== 'ready') break;
      polls++;
      await new Promise((r) => setTimeout(r, 250));
    }
    const after = `${PREFIX}-after`;
    await client.createService({ name: after, image: busybox, command: ['sleep', '3600'], network: 'none', constraints: on('wedge') });
    const [task] = await runningTasks(client, after, 1, 15_000);
    t.equal(task.nodeId, wedge.id, 'a later task on that node is reported running');
  });

  await t.test('orch node rm --force: the removed worker\'s containers are gone within 10 s, the worker exits with one line, other nodes are untouched', async (t) => {
    const mine = `${PREFIX}-victim`;
    const other = `${PREFIX}-bystander`;
    await client.createService({ name: mine, image: busybox, command: ['sleep', '3600'], replicas: 2, network: 'none', constraints: on('victim') });
    await client.createService({ name: other, image: busybox, command: ['sleep', '3600'], network: 'none', constraints: on('keeper') });
    await runningTasks(client, mine, 2, 20_000);
    const [bystander] = await runningTasks(client, other, 1, 20_000);
    t.equal((await containersOfNode(victim.id)).length, 2, 'the victim runs 2 containers');
    const w = c.workers.find((x) => x.name === 'victim')!;
    const t0 = Date.now();
    const rm = await orchCli(c.addresses, ['node', 'rm', 'victim', '--force', '--token', tokens.admin]);
    t.equal(rm.code, 0, `orch node rm victim --force ${rm.stderr.trim()}`);
    await until(async () => (await containersOfNode(victim.id)).length === 0, 10_000);
    const took = Date.now() - t0;
    t.ok(took < 10_000, `its containers are gone ${took} ms after orch node rm was called`);
    const code = await Promise.race([w.exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))]);
    t.not(code, 0, `the worker exits non-zero (${code})`);
    t.not(code, 'still running');
    t.match(logOf('victim'), /orch: node [0-9a-f]{12} was removed from the cluster: its containers were stopped and removed/, 'with one line saying why');
    const still = await docker.getContainer(bystander.containerId!).inspect();
    t.equal(still.State.Running, true, 'another node\'s container still runs');
  });

  await t.test('a worker removed while it was down removes its containers when it starts again, and exits', async (t) => {
    startWorker('lazarus');
    const gone = await nodeOf('lazarus');
    const svc = `${PREFIX}-lazarus`;
    await client.createService({ name: svc, image: busybox, command: ['sleep', '3600'], network: 'none', constraints: on('lazarus') });
    await runningTasks(client, svc, 1, 20_000);
    const w = c.workers.find((x) => x.name === 'lazarus')!;
    process.kill(w.pid, 'SIGKILL'); // nothing of it runs to hear about its removal
    await w.exited;
    await client.removeNode('lazarus', true);
    t.equal((await containersOfNode(gone.id)).length, 1, 'its container outlives it');
    startWorker('lazarus');
    const code = await Promise.race([w.exited, new Promise((r) => setTimeout(() => r('still running'), 20_000))]);
    t.not(code, 0, `the worker exits non-zero (${code})`);
    t.not(code, 'still running');
    t.equal((await containersOfNode(gone.id)).length, 0, 'having removed its container');
    t.match(logOf('lazarus'), /orch: node [0-9a-f]{12} was removed from the cluster: its containers were stopped and removed/, 'with one line saying why');
  });

  await t.test('joining with the worker token under an existing node\'s id is refused, the node up or down', async (t) => {
    const up = await join_(keeper.id);
    t.equal(up.status, 409, 'a ready node\'s id: 409');
    t.equal(up.code, 'node-id-in-use');
    t.match(up.message, /already in the cluster; a node joins only once/);
    startWorker('sleeper');
    const sleeper = await nodeOf('sleeper');
    const w = c.workers.find((x) => x.name === 'sleeper')!;
    process.kill(w.pid, 'SIGKILL');
    await w.exited;
    await until(async () => (await client.nodes()).find((n) => n.id === sleeper.id)?.status === 'down', 15_000);
    const down = await join_(sleeper.id);
    t.equal(down.status, 409, 'a down node\'s id: 409 too');
    t.equal(down.code, 'node-id-in-use');
    t.match(down.message, /down\) is already in the cluster/);
    const removed = await join_(victim.id);
    t.equal(removed.status, 403, 'a removed node\'s id: 403');
    t.equal(removed.code, 'revoked');
  });

  await t.test('a second agent on a copy of a worker\'s data dir is refused and exits; the first keeps working', async (t) => {
    const svc = `${PREFIX}-bystander`;
    const [before] = await runningTasks(client, svc, 1);
    const original = c.workers.find((x) => x.name === 'keeper')!;
    const copyDir = join(c.dir, 'copy-of-keeper');
    cpSync(original.dataDir, copyDir, { recursive: true });
    rmSync(join(copyDir, 'LOCK'), { force: true });
    const copy = spawn(process.execPath, [ORCH_BIN, 'worker', '--join', c.addresses.join(','), '--name', 'keeper', '--data-dir', copyDir, '--heartbeat-ms', String(HEARTBEAT_MS)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DOCKER_HOST: host },
    });
    let out = '';
    copy.stdout.on('data', (b: Buffer) => (out += b.toString()));
    copy.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => copy.once('exit', (code) => r(code)));
    t.teardown(() => {
      if (copy.exitCode === null && copy.signalCode === null) copy.kill('SIGKILL');
    });
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running'), 20_000))]);
    t.equal(typeof code, 'number', `the copy exits (${code})\n${out}`);
    t.not(code, 0, 'non-zero');
    t.match(out, /orch: node [0-9a-f]{12} \(keeper\) is already run by another agent that is alive/, 'saying why in one line');
    t.ok(original.running, 'the first agent still runs');
    t.equal((await client.nodes()).find((n) => n.id === keeper.id)?.status, 'ready', 'its node is ready');
    const info = await docker.getContainer(before.containerId!).inspect();
    t.equal(info.State.Running, true, 'its container was not touched');
    await client.createService({ name: svc, image: busybox, command: ['sleep', '3600'], replicas: 2, network: 'none', constraints: on('keeper') });
    const now = await runningTasks(client, svc, 2, 15_000);
    t.ok(now.every((x) => x.nodeId === keeper.id), 'a later change lands: the first agent runs a second task');
    t.ok(now.some((x) => x.id === before.id && x.containerId === before.containerId), 'and the first task still runs in its container');
  });

  await t.test('a worker re-joined under a new id (wiped data dir, same name) removes the containers of its old id at start', async (t) => {
    startWorker('phoenix');
    const old = await nodeOf('phoenix');
    const svc = `${PREFIX}-phoenix`;
    await client.createService({ name: svc, image: busybox, command: ['sleep', '3600'], network: 'none', constraints: on('phoenix') });
    const [task] = await runningTasks(client, svc, 1, 20_000);
    const w = c.workers.find((x) => x.name === 'phoenix')!;
    process.kill(w.pid, 'SIGKILL'); // dies without cleaning anything
    await w.exited;
    await client.removeNode('phoenix', true);
    t.equal((await docker.getContainer(task.containerId!).inspect()).State.Running, true, 'its container outlives it');
    rmSync(w.dataDir, { recursive: true, force: true });
    startWorker('phoenix');
    const fresh = await nodeOf('phoenix');
    t.not(fresh.id, old.id, 'it joined under a new id');
    await until(async () => (await containersOfNode(old.id)).length === 0, 15_000);
    t.pass('the container of the old id is gone');
    t.match(logOf('phoenix'), new RegExp(`removed 1 container\\(s\\) this worker ran under an old node id \\(${old.id}\\)`), 'and the worker says so');
    const [again] = await runningTasks(client, svc, 1, 20_000);
    t.equal(again.nodeId, fresh.id, 'the task runs again, on the new node');
  });
});
