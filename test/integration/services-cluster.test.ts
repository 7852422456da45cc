// Services on a real 3-manager cluster: created through a follower, replicated to all three,
// surviving a leader kill during `orch start`, scaled up and down.
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { ORCH_BIN, ProcessCluster } from '../helpers/cluster.js';
import { sleep } from '../helpers/writers.js';
import type { ServiceView } from '../../src/api/services.js';
import type { Task } from '../../src/api/tasks.js';


async function getJson<T>(addr: string, path: string): Promise<T> {
  const res = await request(`http://${addr}${path}`);
  return (await res.body.json()) as T;
}

/** Polls a condition on the cluster (event-driven tests would need a watch API; this one is bounded). */
async function until(f: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f().catch(() => false)) return true;
    await sleep(50);
  }
  return false;
}

function orch(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [ORCH_BIN, ...args]);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

t.test('a service created through a follower exists on all three managers', async (t) => {
  const c = await ProcessCluster.start({ managers: 3 });
  t.teardown(() => c.stop());
  const { index } = await c.waitForLeader();
  const follower = c.managers[(index + 1) % 3].address;
  const res = await request(`http://${follower}/v1/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'web', image: 'orch/busybox:latest', replicas: 3 }) });
  const created = await res.body.text();
  t.equal(res.statusCode, 201, `the follower forwarded the create to the leader: ${created}`);
  const svc = JSON.parse(created) as ServiceView;
  for (let k = 0; k < 3; k++) {
    const ok = await until(async () => (await getJson<Task[]>(c.managers[k].address, '/v1/tasks?service=web&stale=true')).length === 3);
    t.ok(ok, `manager ${k} holds the service and its 3 tasks in its own replica`);
    t.equal((await getJson<ServiceView>(c.managers[k].address, '/v1/services/web?stale=true')).id, svc.id);
  }
});

t.test('the leader is killed while `orch start` runs: the command succeeds once', async (t) => {
  const c = await ProcessCluster.start({ managers: 3 });
  t.teardown(() => c.stop());
  const { index } = await c.waitForLeader();
  const spec = join(c.dir, 'web.yaml');
  writeFileSync(spec, 'name: web\nimage: orch/busybox:latest\ncommand: [sleep, "3600"]\nreplicas: 4\n');
  // The leader first in the list: the CLI meets the dead leader, then a cluster electing a new one.
  const managers = [c.managers[index].address, ...c.managers.filter((_, k) => k !== index).map((m) => m.address)].join(',');
  const cli = orch(['start', spec, '--manager', managers, '--json']);
  await c.kill(index, 'SIGKILL');
  const r = await cli;
  t.equal(r.code, 0, `orch start succeeded: ${r.stderr.trim()}`);
  t.equal((JSON.parse(r.stdout) as ServiceView).name, 'web', 'and printed the service as JSON');
  const { index: now } = await c.waitForLeader();
  const addr = c.managers[now].address;
  t.equal((await getJson<ServiceView[]>(addr, '/v1/services')).length, 1, 'exactly one service');
  t.ok(await until(async () => (await getJson<Task[]>(addr, '/v1/tasks?service=web')).length === 4), 'exactly 4 tasks');
  await sleep(500);
  t.equal((await getJson<Task[]>(addr, '/v1/tasks?service=web&all=true')).length, 4, 'and no extra task was ever made');
});

t.test('a create whose answer was lost with the leader is retried with its key and acts once', async (t) => {
  const c = await ProcessCluster.start({ managers: 3 });
  t.teardown(() => c.stop());
  const { index } = await c.waitForLeader();
  const body = JSON.stringify({ name: 'api', image: 'orch/busybox:latest', replicas: 2 });
  const headers = { 'content-type': 'application/json', 'idempotency-key': 'create-api-1' };
  // Sent to the leader, which is killed before (or while) it answers.
  const first = request(`http://${c.managers[index].address}/v1/services`, { method: 'POST', headers, body }).then(
    async (res) => ({ status: res.statusCode, body: await res.body.text() }),
    () => null,
  );
  await sleep(5);
  await c.kill(index, 'SIGKILL');
  const lost = await first;
  const { index: now } = await c.waitForLeader();
  const retry = await request(`http://${c.managers[now].address}/v1/services`, { method: 'POST', headers, body });
  t.ok(retry.statusCode === 201 || retry.statusCode === 200, `the retry answers ${retry.statusCode}`);
  const svc = (await retry.body.json()) as ServiceView;
  if (lost && lost.status === 201) t.equal((JSON.parse(lost.body) as ServiceView).id, svc.id, 'the same service as the first answer');
  else t.pass(`the first attempt got ${lost ? lost.status : 'no answer'}`);
  t.equal((await getJson<ServiceView[]>(c.managers[now].address, '/v1/services')).length, 1, 'exactly one service');
  t.ok(await until(async () => (await getJson<Task[]>(c.managers[now].address, '/v1/tasks?service=api')).length === 2), 'exactly 2 tasks');
});

t.test('scaling up and down changes the task set as specified', async (t) => {
  const c = await ProcessCluster.start({ managers: 3 });
  t.teardown(() => c.stop());
  await c.waitForLeader();
  const m = ['--manager', c.addresses.join(',')];
  t.equal((await orch(['run', 'orch/busybox:latest', 'sleep', '3600', '--name', 'web', '--replicas', '2', ...m])).code, 0);
  const live = async () => (await getJson<Task[]>(c.addresses[0], '/v1/tasks?service=web')).map((x) => x.slot).sort((a, b) => a - b);
  t.ok(await until(async () => (await live()).join() === '1,2'), 'slots 1,2');
  t.equal((await orch(['scale', 'web', '5', ...m])).code, 0);
  t.ok(await until(async () => (await live()).join() === '1,2,3,4,5'), 'scaled up: slots 1..5');
  const before = new Set((await getJson<Task[]>(c.addresses[0], '/v1/tasks?service=web')).filter((x) => x.slot <= 2).map((x) => x.id));
  t.equal((await orch(['scale', 'web', '2', ...m])).code, 0);
  t.ok(await until(async () => (await live()).join() === '1,2'), 'scaled down: slots 1,2');
  const after = (await getJson<Task[]>(c.addresses[0], '/v1/tasks?service=web')).map((x) => x.id);
  t.ok(after.every((id) => before.has(id)), 'the tasks of slots 1 and 2 were kept, not replaced');
  const list = await orch(['list', '--all', '--json', ...m]);
  const all = JSON.parse(list.stdout) as Task[];
  t.equal(all.filter((x) => x.state === 'shutdown').length, 3, 'slots 3..5 shut down');
  t.equal((await orch(['stop', 'web', ...m])).code, 0);
  t.ok(await until(async () => (await live()).length === 0), 'stop: no live task');
});
