// /v1/services, /v1/tasks, /v1/nodes through fastify.inject on a one-manager cluster, with the
// reconciler creating and retiring tasks.
import t from 'tap';
import type { Manager } from '../../src/manager/manager.js';
import { singleManager } from '../helpers/single-manager.js';
import type { Task } from '../../src/api/tasks.js';


async function tasksOf(m: Manager, service: string): Promise<Task[]> {
  return (await m.app.inject({ method: 'GET', url: `/v1/tasks?service=${service}` })).json() as Task[];
}

/** Waits for the reconciler: until f holds or a deadline passes. */
async function until(f: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

const web = { name: 'web', image: 'orch/busybox:latest', command: ['sleep', '3600'], replicas: 3, resources: { memory: '64MiB' } };

t.test('create, read, scale, update, stop', async (t) => {
  const m = await singleManager(t);
  const created = await m.app.inject({ method: 'POST', url: '/v1/services', payload: web });
  t.equal(created.statusCode, 201, 'created');
  const svc = created.json() as { id: string; name: string; version: number; spec: { resources: { memory: number } }; desired: number };
  t.equal(svc.spec.resources.memory, 64 * 2 ** 20, 'units normalized');
  t.equal(svc.desired, 3);
  t.ok(await until(async () => (await tasksOf(m, 'web')).length === 3), 'the reconciler made 3 tasks');
  const tasks = await tasksOf(m, 'web');
  t.same(tasks.map((x) => x.slot).sort(), [1, 2, 3], 'one per slot');
  t.ok(tasks.every((x) => x.state === 'pending' && x.desired === 'running'), 'pending, waiting for workers');

  const same = await m.app.inject({ method: 'POST', url: '/v1/services', payload: web });
  t.equal(same.statusCode, 200, 'the same spec again: 200');
  t.equal((same.json() as { version: number }).version, 1, 'and no new version');

  const byName = (await m.app.inject({ method: 'GET', url: '/v1/services/web' })).json() as { id: string; tasks: unknown[] };
  t.equal(byName.id, svc.id, 'found by name');
  t.equal(byName.tasks.length, 3);
  t.equal(((await m.app.inject({ method: 'GET', url: `/v1/services/${svc.id}` })).json() as { name: string }).name, 'web', 'found by id');

  const down = await m.app.inject({ method: 'PATCH', url: '/v1/services/web', payload: { replicas: 1 } });
  t.equal(down.statusCode, 200);
  t.equal((down.json() as { version: number }).version, 2);
  t.ok(await until(async () => (await tasksOf(m, 'web')).length === 1), 'scaled down to 1 live task');
  t.equal((await tasksOf(m, 'web'))[0].slot, 1, 'slot 1 remains');
  const all = (await m.app.inject({ method: 'GET', url: '/v1/tasks?service=web&all=true' })).json() as Task[];
  t.equal(all.filter((x) => x.state === 'shutdown').length, 2, 'the others are shut down, kept as history');

  t.equal((await tasksOf(m, 'web'))[0].version, 1, 'a scale is not a redeploy: the task is kept');
  const up = await m.app.inject({ method: 'PATCH', url: '/v1/services/web', payload: { replicas: 4, image: 'orch/busybox:2' } });
  const upView = up.json() as { spec: { image: string }; taskVersion: number };
  t.equal(upView.spec.image, 'orch/busybox:2');
  t.equal(upView.taskVersion, 2, 'a new image is a new task version');
  t.ok(await until(async () => {
    const ts = await tasksOf(m, 'web');
    return ts.length === 4 && ts.every((x) => x.version === 2);
  }), 'scaled up to 4, pending tasks of the old version replaced');

  const stop = await m.app.inject({ method: 'DELETE', url: '/v1/services/web' });
  t.equal(stop.statusCode, 200);
  t.equal((stop.json() as { state: string }).state, 'stopped');
  t.ok(await until(async () => (await tasksOf(m, 'web')).length === 0), 'no live task after stop');
  const again = await m.app.inject({ method: 'POST', url: '/v1/services', payload: web });
  t.equal((again.json() as { state: string; version: number }).state, 'active', 'start after stop re-activates');
});

t.test('tasks: by id, delete one (it is replaced), filters', async (t) => {
  const m = await singleManager(t);
  await m.app.inject({ method: 'POST', url: '/v1/services', payload: { ...web, replicas: 2 } });
  t.ok(await until(async () => (await tasksOf(m, 'web')).length === 2));
  const [first] = await tasksOf(m, 'web');
  t.equal(((await m.app.inject({ method: 'GET', url: `/v1/tasks/${first.id}` })).json() as { id: string }).id, first.id);
  const del = await m.app.inject({ method: 'DELETE', url: `/v1/tasks/${first.id}` });
  t.equal((del.json() as { state: string }).state, 'shutdown');
  t.ok(await until(async () => {
    const ts = await tasksOf(m, 'web');
    return ts.length === 2 && !ts.some((x) => x.id === first.id);
  }), 'a replacement took its slot');
  t.equal(((await m.app.inject({ method: 'GET', url: '/v1/tasks?state=shutdown' })).json() as unknown[]).length, 1);
  t.same((await m.app.inject({ method: 'GET', url: '/v1/nodes' })).json(), [], 'no workers yet');
});

t.test('bad input: 4xx naming the field, never a 500', async (t) => {
  const m = await singleManager(t);
  const cases: [string, string, unknown, number, RegExp][] = [
    ['POST', '/v1/services', { ...web, replicas: 'three' }, 400, /^replicas: expected an integer from 0 to 100000, got "three"$/],
    ['POST', '/v1/services', { ...web, colour: 'red' }, 400, /^colour: unknown field$/],
    ['POST', '/v1/services', { image: 'x' }, 400, /^name: is required/],
    ['POST', '/v1/services', [1, 2], 400, /body: must be object/],
    ['POST', '/v1/services', { ...web, ports: [{ container: 99999 }] }, 400, /ports\[0\]\.container: expected an integer from 1 to 65535/],
    ['GET', '/v1/services/nope', undefined, 404, /service nope does not exist/],
    ['GET', '/v1/services/bad%20id', undefined, 400, /params\.id/],
    ['PATCH', '/v1/services/nope', { replicas: 2 }, 404, /service nope does not exist/],
    ['DELETE', '/v1/services/nope', undefined, 404, /service nope does not exist/],
    ['GET', '/v1/tasks?state=sleeping', undefined, 400, /querystring\.state: must be equal to one of the allowed values/],
    ['GET', '/v1/tasks/zzz', undefined, 404, /task zzz does not exist/],
    ['DELETE', '/v1/tasks/zzz', undefined, 404, /task zzz does not exist/],
  ];
  for (const [method, url, payload, status, msg] of cases) {
    const res = await m.app.inject({ method: method as 'POST', url, payload: payload as object | undefined });
    t.equal(res.statusCode, status, `${method} ${url} -> ${status}`);
    t.match((res.json() as { error: { message: string } }).error.message, msg);
  }
  await m.app.inject({ method: 'POST', url: '/v1/services', payload: web });
  const rename = await m.app.inject({ method: 'PATCH', url: '/v1/services/web', payload: { name: 'other' } });
  t.equal(rename.statusCode, 400);
  t.match((rename.json() as { error: { message: string } }).error.message, /cannot be renamed/);
  const badPatch = await m.app.inject({ method: 'PATCH', url: '/v1/services/web', payload: { replicas: -1 } });
  t.equal(badPatch.statusCode, 400);
  t.match((badPatch.json() as { error: { message: string } }).error.message, /^replicas: expected an integer from 0 to 100000, got -1$/);
  const huge = await m.app.inject({ method: 'POST', url: '/v1/services', payload: { ...web, env: { BIG: 'x'.repeat(3 << 20) } } });
  t.equal(huge.statusCode, 413, 'an oversized body is a 413');
  const details = (await m.app.inject({ method: 'POST', url: '/v1/services', payload: { ...web, replicas: 'x', bogus: 1 } })).json() as { error: { details: { path: string }[] } };
  t.same(details.error.details.map((d) => d.path).sort(), ['bogus', 'replicas'], 'details list every field');
});

t.test('a spec no node could hold is refused, naming the resource', async (t) => {
  const m = await singleManager(t);
  // A worker's record, as the join of a later issue will commit it (written directly for this test).
  m.state.cluster.nodes.set('n1', { id: 'n1', name: 'w1', address: '127.0.0.1:1', labels: {}, capacity: { cpu: 2, memory: 2 ** 30, disk: 10 * 2 ** 30 }, availability: 'active', status: 'ready', createdAt: 0, updatedAt: 0 });
  const res = await m.app.inject({ method: 'POST', url: '/v1/services', payload: { ...web, resources: { memory: '2GiB', cpu: 4 } } });
  t.equal(res.statusCode, 400);
  t.equal((res.json() as { error: { message: string } }).error.message, 'resources.memory: 2 GiB is more than any node has (the largest has 1 GiB); resources.cpu: 4 cpus is more than any node has (the largest has 2)');
  t.equal((await m.app.inject({ method: 'POST', url: '/v1/services', payload: { ...web, resources: { memory: '512MiB' } } })).statusCode, 201, 'one that fits is accepted');
});

t.test('node availability and rollback through the API: answers and refusals', async (t) => {
  const m = await singleManager(t);
  const reg = await m.app.inject({ method: 'POST', url: '/v1/nodes/register', payload: { id: 'aaaaaaaaaaaa', name: 'w1', address: '127.0.0.1:1', labels: {}, capacity: { cpu: 2, memory: 2 ** 30, disk: 2 ** 30 } } });
  t.equal(reg.statusCode, 200, 'a node registered');
  const drain = await m.app.inject({ method: 'PATCH', url: '/v1/nodes/w1', payload: { availability: 'drain' } });
  t.equal(drain.statusCode, 200, 'PATCH by name');
  t.equal((drain.json() as { availability: string }).availability, 'drain');
  t.equal(((await m.app.inject({ method: 'PATCH', url: '/v1/nodes/aaaaaaaaaaaa', payload: { availability: 'active' } })).json() as { availability: string }).availability, 'active', 'and by id');
  const bad = await m.app.inject({ method: 'PATCH', url: '/v1/nodes/w1', payload: { availability: 'gone' } });
  t.equal(bad.statusCode, 400, 'an unknown availability is refused');
  t.match((bad.json() as { error: { message: string } }).error.message, /availability/, 'naming the field');
  const none = await m.app.inject({ method: 'PATCH', url: '/v1/nodes/w9', payload: { availability: 'pause' } });
  t.equal(none.statusCode, 404, 'an unknown node: 404');
  t.match((none.json() as { error: { message: string } }).error.message, /node w9 does not exist/);

  t.equal((await m.app.inject({ method: 'POST', url: '/v1/services', payload: web })).statusCode, 201);
  const nothing = await m.app.inject({ method: 'POST', url: '/v1/services/web/rollback' });
  t.equal(nothing.statusCode, 409, 'no update yet: nothing to roll back');
  t.match((nothing.json() as { error: { message: string } }).error.message, /service web has no update to roll back/);
  t.ok(await until(async () => (await tasksOf(m, 'web')).length === 3), 'three tasks');
  const changed = await m.app.inject({ method: 'POST', url: '/v1/services', payload: { ...web, image: 'orch/busybox:2' } });
  const view = changed.json() as { update: { state: string; from: number; to: number; done: number; total: number } };
  t.same([view.update.state, view.update.from, view.update.to, view.update.done, view.update.total], ['updating', 1, 2, 0, 3], 'a changed image starts an update, shown with its progress');
  const back = await m.app.inject({ method: 'POST', url: '/v1/services/web/rollback' });
  t.equal(back.statusCode, 200, 'rolled back on request');
  const after = back.json() as { spec: { image: string }; update: { state: string; message: string } };
  t.same([after.spec.image, after.update.state, after.update.message], ['orch/busybox:latest', 'rolling-back', 'rolled back on request']);
  t.equal((await m.app.inject({ method: 'POST', url: '/v1/services/web/rollback' })).statusCode, 409, 'a second rollback is refused');
});

t.test('privileged mode, capabilities and host paths: refused unless the cluster allows them', async (t) => {
  const powers = { ...web, name: 'root', privileged: true, capAdd: ['NET_ADMIN', 'CAP_SYS_TIME'], mounts: [{ source: '/var/run/docker.sock', target: '/docker.sock', readOnly: true }] };
  const m = await singleManager(t);
  const refused = await m.app.inject({ method: 'POST', url: '/v1/services', payload: powers });
  t.equal(refused.statusCode, 403, 'refused');
  const msg = (refused.json() as { error: { message: string } }).error.message;
  t.match(msg, /^privileged: privileged mode: this cluster does not allow it; an admin may allow it with "orch cluster update --allow-privileged true"/, 'naming the field and the way to allow it');
  t.match(msg, /capAdd: extra capabilities \(NET_ADMIN, SYS_TIME\)/);
  t.match(msg, /mounts: host paths \(\/var\/run\/docker\.sock\)/);
  t.equal((await m.app.inject({ method: 'GET', url: '/v1/services/root' })).statusCode, 404, 'nothing was created');
  t.equal((await m.app.inject({ method: 'POST', url: '/v1/services', payload: web })).statusCode, 201, 'a plain service is fine');
  const patch = await m.app.inject({ method: 'PATCH', url: '/v1/services/web', payload: { privileged: true } });
  t.equal(patch.statusCode, 403, 'nor can a PATCH add them');
  const bad = await m.app.inject({ method: 'POST', url: '/v1/services', payload: { ...web, mounts: [{ source: 'relative', target: '/' }] } });
  t.equal(bad.statusCode, 400, 'a relative host path is refused as bad input');
  t.match((bad.json() as { error: { message: string } }).error.message, /mounts\[0\]\.source: expected an absolute path on the host/);

  const allowing = await singleManager(t, { allowPrivileged: true });
  const ok = await allowing.app.inject({ method: 'POST', url: '/v1/services', payload: powers });
  t.equal(ok.statusCode, 201, 'allowed with --allow-privileged');
  t.same((ok.json() as { spec: { privileged: boolean; capAdd: string[]; mounts: unknown[] } }).spec.capAdd, ['NET_ADMIN', 'SYS_TIME'], 'capabilities without the CAP_ prefix');
});

t.test('the cluster setting allowPrivileged: seeded from the flag, changed by PATCH /v1/cluster/settings', async (t) => {
  const powers = { ...web, name: 'root', privileged: true };
  const m = await singleManager(t, { allowPrivileged: true });
  // The seed is the leader's first duty; wait for it to commit (bounded).
  for (let k = 0; k < 200 && m.state.settings.settings === null; k++) await new Promise((r) => setTimeout(r, 10));
  t.same(m.state.settings.settings, { allowPrivileged: true, allowHostNetwork: true }, 'seeded from --allow-privileged');
  t.same((await m.app.inject({ method: 'GET', url: '/v1/cluster/settings' })).json(), { allowPrivileged: true, allowHostNetwork: true });
  const off = await m.app.inject({ method: 'PATCH', url: '/v1/cluster/settings', payload: { allowPrivileged: false } });
  t.equal(off.statusCode, 200);
  t.same(off.json(), { allowPrivileged: false, allowHostNetwork: true }, 'the new settings are the answer');
  t.equal((await m.app.inject({ method: 'POST', url: '/v1/services', payload: powers })).statusCode, 403, 'refused now, though the manager has the flag');
  const bad = await m.app.inject({ method: 'PATCH', url: '/v1/cluster/settings', payload: { allowPrivileged: 'yes' } });
  t.equal(bad.statusCode, 400);
  t.match((bad.json() as { error: { message: string } }).error.message, /body\.allowPrivileged: must be boolean/, 'naming the field');
  const unknown = await m.app.inject({ method: 'PATCH', url: '/v1/cluster/settings', payload: { allowPriviledged: true } });
  t.equal(unknown.statusCode, 400, 'a misspelt setting is refused');
  t.equal((await m.app.inject({ method: 'PATCH', url: '/v1/cluster/settings', payload: { allowPrivileged: true } })).statusCode, 200);
  t.equal((await m.app.inject({ method: 'POST', url: '/v1/services', payload: powers })).statusCode, 201, 'allowed again');
});

t.test('the cluster setting allowHostNetwork: allowed by default, refused once an admin says so', async (t) => {
  const m = await singleManager(t);
  const host = { ...web, name: 'hostnet', network: 'host' };
  t.equal((await m.app.inject({ method: 'POST', url: '/v1/services', payload: host })).statusCode, 201, 'network: host is allowed by default');
  const off = await m.app.inject({ method: 'PATCH', url: '/v1/cluster/settings', payload: { allowHostNetwork: false } });
  t.same(off.json(), { allowPrivileged: false, allowHostNetwork: false });
  const refused = await m.app.inject({ method: 'POST', url: '/v1/services', payload: { ...host, name: 'hostnet2' } });
  t.equal(refused.statusCode, 403, 'refused once the cluster refuses host networking');
  t.match((refused.json() as { error: { message: string } }).error.message, /^network: host networking .*orch cluster update --allow-host-network true/, 'naming the field and the way back');
  t.equal((await m.app.inject({ method: 'POST', url: '/v1/services', payload: { ...host, name: 'bridged', network: 'bridge' } })).statusCode, 201, 'bridge is fine');
});

t.test('a query parameter a route does not declare is refused, naming it', async (t) => {
  const m = await singleManager(t);
  const res = await m.app.inject({ method: 'GET', url: '/v1/services?stael=true' });
  t.equal(res.statusCode, 400);
  t.equal((res.json() as { error: { message: string } }).error.message, 'querystring: must NOT have additional properties (stael)');
  t.equal((await m.app.inject({ method: 'GET', url: '/v1/services?stale=true' })).statusCode, 200, 'a declared one is fine');
});

t.test('a blocking read of a service waits for the state to move past the index it gives', async (t) => {
  const m = await singleManager(t);
  t.equal((await m.app.inject({ method: 'POST', url: '/v1/services', payload: web })).statusCode, 201);
  t.ok(await until(async () => (await tasksOf(m, 'web')).length === 3), 'the reconciler made 3 tasks');
  const first = await m.app.inject({ method: 'GET', url: '/v1/services/web?tasks=false' });
  const index = Number(first.headers['x-orch-index']);
  t.ok(Number.isSafeInteger(index) && index > 0, `an index comes with the answer: ${first.headers['x-orch-index']}`);

  // An index the state has moved past: answered at once.
  const t0 = performance.now();
  const stale = await m.app.inject({ method: 'GET', url: `/v1/services/web?tasks=false&index=${index - 1}&wait=10000` });
  t.equal(stale.statusCode, 200);
  t.ok(performance.now() - t0 < 5_000, 'not held');

  // The current index: held until a change applies, and answered with it.
  let answered = false;
  const held = m.app.inject({ method: 'GET', url: `/v1/services/web?tasks=false&index=${index}&wait=20000` }).then((r) => {
    answered = true;
    return r;
  });
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(answered, 'still held while nothing changes');
  t.equal((await m.app.inject({ method: 'PATCH', url: '/v1/services/web', payload: { replicas: 5 } })).statusCode, 200);
  const moved = await held;
  t.equal(moved.statusCode, 200);
  t.ok(Number(moved.headers['x-orch-index']) > index, 'the answer is as of a later index');
  t.equal((moved.json() as { desired: number }).desired, 5, 'and shows the change');

  // With nothing changing it ends after `wait`, with the same index.
  const quiet = await m.app.inject({ method: 'GET', url: `/v1/services/web?tasks=false&index=${Number(moved.headers['x-orch-index'])}&wait=1` });
  t.equal(quiet.statusCode, 200);

  for (const q of ['index=-1', 'index=x', 'wait=-5', 'wait=30001']) {
    const bad = await m.app.inject({ method: 'GET', url: `/v1/services/web?${q}` });
    t.equal(bad.statusCode, 400, `${q}: 400`);
    t.match(bad.body, q.split('=')[0], `${q}: the field is named`);
  }
});
