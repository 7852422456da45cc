// Which writes wait for a read barrier (a ReadIndex round) before they propose: those that decide
// on the state outside the log do; those whose target is found and whose effect the state machine
// decides when it applies do not, unless the target is missing (a 404 is confirmed first). And the
// create-or-update's answer says what it did.
import t from 'tap';
import { singleManager } from '../helpers/single-manager.js';

const web = { name: 'web', image: 'orch/busybox:latest', command: ['sleep', '3600'], replicas: 1, resources: { memory: '16MiB' } };

t.test('read barriers before writes, and the outcome of a service write', async (t) => {
  const m = await singleManager(t);
  let barriers = 0;
  const node = m.node as { readBarrier(): Promise<void> };
  const real = node.readBarrier.bind(node);
  node.readBarrier = () => {
    barriers++;
    return real();
  };
  const call = async (method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) => {
    barriers = 0;
    const res = await m.app.inject({ method, url, ...(payload ? { payload } : {}) });
    return { status: res.statusCode, outcome: res.headers['x-orch-outcome'], barriers, body: res.body };
  };

  const reg = await m.app.inject({ method: 'POST', url: '/v1/nodes/register', payload: { id: 'aaaaaaaaaaaa', name: 'w1', address: '127.0.0.1:1', labels: {}, capacity: { cpu: 2, memory: 2 ** 30, disk: 2 ** 30 } } });
  t.equal(reg.statusCode, 200, 'a node registered');

  let r = await call('POST', '/v1/services', web);
  t.match(r, { status: 201, outcome: 'created', barriers: 1 }, 'a create: created, after a barrier (the settings and nodes decide outside the log)');
  r = await call('POST', '/v1/services', web);
  t.match(r, { status: 200, outcome: 'unchanged' }, 'the same spec again: unchanged');
  r = await call('POST', '/v1/services', { ...web, replicas: 2 });
  t.match(r, { status: 200, outcome: 'updated' }, 'another spec: updated');

  let taskId = '';
  for (let k = 0; k < 250 && !taskId; k++) {
    const tasks = (await m.app.inject({ method: 'GET', url: '/v1/tasks?service=web&stale=true' })).json() as { id: string }[];
    taskId = tasks[0]?.id ?? '';
    if (!taskId) await new Promise((res) => setTimeout(res, 20));
  }
  t.ok(taskId, 'the reconciler made a task');

  r = await call('DELETE', `/v1/tasks/${taskId}`);
  t.match(r, { status: 200, barriers: 0 }, 'stopping a task the leader holds: no barrier (the apply decides)');
  r = await call('DELETE', '/v1/tasks/nosuchtask');
  t.match(r, { status: 404, barriers: 1 }, 'a task it does not hold: 404 once a barrier confirmed it');

  r = await call('PATCH', '/v1/nodes/w1', { availability: 'drain' });
  t.match(r, { status: 200, barriers: 0 }, 'draining a node the leader holds: no barrier');
  r = await call('PATCH', '/v1/nodes/aaaaaaaaaaaa', { availability: 'active' });
  t.match(r, { status: 200, barriers: 0 }, 'by its id too');
  r = await call('PATCH', '/v1/nodes/w9', { availability: 'drain' });
  t.match(r, { status: 404, barriers: 1 }, 'a node it does not hold: 404 once a barrier confirmed it');

  r = await call('PATCH', '/v1/services/web', { replicas: 1 });
  t.match(r, { status: 200, barriers: 1 }, 'a patch still waits (the settings and nodes decide outside the log)');
});
