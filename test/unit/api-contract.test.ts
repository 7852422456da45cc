// The answers of the services, tasks and nodes routes and of the worker protocol, from a running
// manager, against the contract in src/api: each one matches its schema exactly (no field the schema
// lacks, none it requires missing), and carries the fields clients read (a field missing from a
// response schema would vanish from the answer: the serializer drops it).
import t from 'tap';
import { Ajv } from 'ajv';
import { Type, type TSchema } from '@sinclair/typebox';
import { ErrorBody } from '../../src/api/errors.js';
import { Assignments, HeartbeatAnswer, NodeInfo, NodeRecord, NodeRemoved, RegisterAnswer } from '../../src/api/nodes.js';
import { ServiceView, ServiceWithTasks } from '../../src/api/services.js';
import { Task } from '../../src/api/tasks.js';
import { until } from '../helpers/docker-cluster.js';
import { singleManager } from '../helpers/single-manager.js';

const check = new Ajv({ strict: false, allErrors: true });
const strip = new Ajv({ strict: false, removeAdditional: 'all' });

/** Problems of `value` against `schema`: its errors, and any field the schema does not name. */
function mismatch(schema: TSchema, value: unknown): string | null {
  const validate = check.compile(schema);
  if (!validate(value)) return check.errorsText(validate.errors);
  const copy = structuredClone(value);
  strip.compile(schema)(copy);
  return JSON.stringify(copy) === JSON.stringify(value) ? null : `fields outside the schema: ${JSON.stringify(value).slice(0, 400)}`;
}

const NODE = { id: 'a1b2c3d4e5f6', name: 'w1', address: '127.0.0.1:7100', labels: { zone: 'a' }, capacity: { cpu: 4, memory: 8 * 2 ** 30, disk: 100 * 2 ** 30 } };
const SESSION = 'ab'.repeat(16);

t.test('every answer is its schema exactly, with the fields clients read', async (t) => {
  // A long heartbeat period: the node stays up however slowly this test runs on a loaded machine.
  const m = await singleManager(t, { workerHeartbeatMs: 60_000 });
  const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) => {
    const res = await m.app.inject({ method, url, payload });
    return { status: res.statusCode, body: res.body.length ? (res.json() as unknown) : null };
  };
  const expect = (what: string, schema: TSchema, r: { status: number; body: unknown }, status: number, fields: string[] = []) => {
    t.equal(r.status, status, `${what}: ${status}`);
    t.equal(mismatch(schema, r.body), null, `${what}: matches its schema`);
    const body = (Array.isArray(r.body) ? r.body[0] : r.body) as Record<string, unknown> | undefined;
    for (const f of fields) t.ok(body && f in body, `${what}: has ${f}`);
  };

  const reg = await call('POST', `/v1/nodes/register?session=${SESSION}`, NODE);
  expect('register', RegisterAnswer, reg, 200, ['id', 'managers', 'term']);
  const spec = { name: 'web', image: 'orch/busybox:latest', command: ['sleep', '60'], replicas: 2, constraints: ['node.labels.zone == a'], healthCheck: { tcp: { port: 80 } } };
  const created = await call('POST', '/v1/services', spec);
  expect('create', ServiceView, created, 201, ['running', 'placed', 'desired', 'update', 'spec', 'taskVersion']);
  t.same((created.body as ServiceView).spec.constraints, [{ field: 'label', label: 'zone', op: '==', value: 'a' }], 'the spec\'s constraints are kept whole');

  t.ok(await until(async () => ((await call('GET', '/v1/tasks?node=' + NODE.id)).body as unknown[]).length === 2, 20_000), 'both replicas placed on the node');
  const assigned = await call('GET', `/v1/nodes/${NODE.id}/assignments?since=-1&wait=0&session=${SESSION}`);
  expect('assignments', Assignments, assigned, 200, ['term', 'version', 'tasks']);
  const tasks = (assigned.body as Assignments).tasks!;
  t.equal(tasks.length, 2, 'two assignments');
  t.ok(tasks[0].spec, 'an assignment carries its spec');
  const unchanged = await call('GET', `/v1/nodes/${NODE.id}/assignments?since=${(assigned.body as Assignments).version}&wait=0&session=${SESSION}`);
  expect('assignments unchanged', Assignments, unchanged, 200, ['unchanged']);

  const beat = await call('POST', `/v1/nodes/${NODE.id}/heartbeat?session=${SESSION}`, {
    usage: { cpu: 0.5, memory: 2 ** 30, load: 1 },
    reports: [{ taskId: tasks[0].id, state: 'running', containerId: 'c0ffee0c0ffee0c0', health: 'healthy' }],
  });
  expect('heartbeat', HeartbeatAnswer, beat, 200, ['term', 'leader', 'managers']);
  const badBeat = await call('POST', `/v1/nodes/${NODE.id}/heartbeat?session=${SESSION}`, { reports: [{ taskId: tasks[0].id, state: 'sleeping' }] });
  expect('a heartbeat with a bad report', ErrorBody, badBeat, 400);

  const list = await call('GET', '/v1/tasks');
  expect('tasks', Type.Array(Task), list, 200, ['health', 'runningAt', 'reason', 'restarts', 'containerId']);
  const running = (list.body as Task[]).find((x) => x.id === tasks[0].id)!;
  t.equal(running.state, 'running', 'the report applied');
  t.equal(running.health, 'healthy', 'with its health');
  expect('task', Task, await call('GET', `/v1/tasks/${running.id}`), 200, ['serviceName']);

  expect('services', Type.Array(ServiceView), await call('GET', '/v1/services'), 200, ['placed']);
  expect('service with tasks', ServiceWithTasks, await call('GET', '/v1/services/web'), 200, ['tasks']);
  expect('service summary', ServiceView, await call('GET', '/v1/services/web?tasks=false'), 200, ['running']);
  const patched = await call('PATCH', '/v1/services/web', { replicas: 1, image: 'orch/busybox:2' });
  expect('patch', ServiceView, patched, 200);
  t.ok(await until(async () => ((await call('GET', '/v1/services/web?tasks=false')).body as ServiceView).update !== null, 20_000), 'an update started');
  const withUpdate = await call('GET', '/v1/services/web?tasks=false');
  expect('service under update', ServiceView, withUpdate, 200);
  const u = (withUpdate.body as ServiceView).update;
  t.ok(u && 'done' in u && 'total' in u, 'the update shows its progress');
  const rollback = await call('POST', '/v1/services/web/rollback');
  expect('rollback', rollback.status === 200 ? ServiceView : ErrorBody, rollback, rollback.status === 200 ? 200 : 409);

  const nodes = await call('GET', '/v1/nodes');
  expect('nodes', Type.Array(NodeInfo), nodes, 200, ['reserved', 'usage', 'capacity', 'availability', 'status', 'labels']);
  t.same((nodes.body as NodeInfo[])[0].usage, { cpu: 0.5, memory: 2 ** 30, load: 1 }, 'the heartbeat\'s usage is shown');
  expect('drain', NodeRecord, await call('PATCH', `/v1/nodes/${NODE.id}`, { availability: 'drain' }), 200, ['availability']);
  expect('stop a task', Task, await call('DELETE', `/v1/tasks/${running.id}`), 200);
  expect('stop', ServiceView, await call('DELETE', '/v1/services/web'), 200, ['state']);
  expect('remove an up node', ErrorBody, await call('DELETE', `/v1/nodes/${NODE.id}`), 409);
  expect('remove', NodeRemoved, await call('DELETE', `/v1/nodes/${NODE.id}?force=true`), 200, ['tasksLost']);
  expect('unknown task', ErrorBody, await call('GET', '/v1/tasks/nope'), 404);
});
