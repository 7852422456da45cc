// /v1/services, /v1/tasks and /v1/nodes: the user's desired state and what became of it.
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { request } from 'undici';
import { formatBytes, normalizeSpec, SpecError, type ServiceSpec } from '../../spec/index.js';
import type { ManagerContext } from '../context.js';
import { newId } from '../ids.js';
import { CONTAINER_ID, specOf, TERMINAL, type ClusterResult, type NodeRecord, type Service, type Task } from '../state/cluster-state.js';
import { stableIn } from '../reconciler.js';
import { ApiError } from './errors.js';
import { settingsOf } from './cluster.js';
import { forwardIfFollower, propose, readBarrier } from './consensus.js';
import { untilState } from './state-wait.js';
import { isNodeAddress } from '../address.js';

/** The longest a blocking read waits (below any proxy's or client's idle timeout). */
const MAX_BLOCK_MS = 30_000;

const staleQuery = { type: 'object', properties: { stale: { type: 'boolean' } }, additionalProperties: false } as const;
/**
 * ?tasks=false: the service and its counts without the task list (which is 38 MB with 100,000 tasks).
 * ?index=N&wait=MS: a blocking read (Nomad's blocking queries): the answer waits until the cluster
 * state moves past index N (the X-Orch-Index of an earlier answer), or MS pass. `--wait` sees a
 * replica running as soon as the report applies instead of at its next poll.
 */
const serviceQuery = {
  type: 'object',
  properties: { stale: { type: 'boolean' }, tasks: { type: 'boolean' }, index: { type: 'integer', minimum: 0 }, wait: { type: 'integer', minimum: 0, maximum: MAX_BLOCK_MS } },
  additionalProperties: false,
} as const;
const idParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' } }, required: ['id'] } as const;

/** The spec in the form a person writes it, so a PATCH can be merged and validated like a POST. */
export function specToInput(s: ServiceSpec): Record<string, unknown> {
  return {
    name: s.name,
    image: s.image,
    command: s.command,
    replicas: s.replicas,
    resources: s.resources,
    env: s.env,
    network: s.network,
    ports: s.ports.map((p) => ({ container: p.container, host: p.host ?? p.container, protocol: p.protocol })),
    restart: { policy: s.restart.policy, maxAttempts: s.restart.maxAttempts, delay: s.restart.delayMs },
    ...(s.privileged ? { privileged: true } : {}),
    ...(s.capAdd.length ? { capAdd: s.capAdd } : {}),
    ...(s.mounts.length ? { mounts: s.mounts } : {}),
    ...(s.healthCheck
      ? {
          healthCheck: {
            ...(s.healthCheck.http ? { http: s.healthCheck.http } : {}),
            ...(s.healthCheck.tcp ? { tcp: s.healthCheck.tcp } : {}),
            ...(s.healthCheck.exec ? { exec: s.healthCheck.exec } : {}),
            interval: s.healthCheck.intervalMs,
            timeout: s.healthCheck.timeoutMs,
            retries: s.healthCheck.retries,
            startPeriod: s.healthCheck.startPeriodMs,
          },
        }
      : {}),
    constraints: s.constraints.map((c) => `node.${c.field === 'label' ? `labels.${c.label}` : c.field} ${c.op} ${c.value}`),
    ...(s.placement ? { placement: s.placement } : {}),
    update: { parallelism: s.update.parallelism, monitor: s.update.monitorMs, failureAction: s.update.failureAction },
  };
}

function validSpec(input: unknown): ServiceSpec {
  try {
    return normalizeSpec(input);
  } catch (err) {
    if (err instanceof SpecError) throw new ApiError(400, 'bad-spec', err.message, err.issues);
    throw err;
  }
}

/** Powers over the host are refused unless the cluster's settings allow them (seeded by --allow-privileged). */
function checkAllowed(ctx: ManagerContext, spec: ServiceSpec): void {
  const settings = settingsOf(ctx);
  const issues: { path: string; message: string }[] = [];
  if (spec.network === 'host' && !settings.allowHostNetwork) {
    issues.push({ path: 'network', message: 'host networking (the host\'s loopback services would be in reach): this cluster refuses it; use bridge with published ports, or an admin may allow it with "orch cluster update --allow-host-network true"' });
  }
  if (!settings.allowPrivileged) {
    const how = 'this cluster does not allow it; an admin may allow it with "orch cluster update --allow-privileged true" (or create the cluster with --allow-privileged) to allow';
    if (spec.privileged) issues.push({ path: 'privileged', message: `privileged mode: ${how} it` });
    if (spec.capAdd.length) issues.push({ path: 'capAdd', message: `extra capabilities (${spec.capAdd.join(', ')}): ${how} them` });
    if (spec.mounts.length) issues.push({ path: 'mounts', message: `host paths (${spec.mounts.map((m) => m.source).join(', ')}): ${how} them` });
  }
  if (issues.length) throw new ApiError(403, 'not-allowed', issues.map((i) => `${i.path}: ${i.message}`).join('; '), issues);
}

/** A spec that no node could ever hold is refused up front, naming the resource. */
function checkFits(ctx: ManagerContext, spec: ServiceSpec): void {
  const nodes = [...ctx.state.cluster.nodes.values()];
  if (nodes.length === 0) return; // no worker yet: nothing to compare with
  const maxMem = Math.max(...nodes.map((n) => n.capacity.memory));
  const maxCpu = Math.max(...nodes.map((n) => n.capacity.cpu));
  const maxDisk = Math.max(...nodes.map((n) => n.capacity.disk));
  const issues: { path: string; message: string }[] = [];
  if (spec.resources.memory > maxMem) issues.push({ path: 'resources.memory', message: `${formatBytes(spec.resources.memory)} is more than any node has (the largest has ${formatBytes(maxMem)})` });
  if (spec.resources.cpu > maxCpu) issues.push({ path: 'resources.cpu', message: `${spec.resources.cpu} cpus is more than any node has (the largest has ${maxCpu})` });
  if (spec.resources.disk > maxDisk) issues.push({ path: 'resources.disk', message: `${formatBytes(spec.resources.disk)} is more than any node has (the largest has ${formatBytes(maxDisk)})` });
  if (issues.length) throw new ApiError(400, 'bad-spec', issues.map((i) => `${i.path}: ${i.message}`).join('; '), issues);
}

/** How far a rolling update has come: slots running the new version, stable past the monitor period. */
function updateView(ctx: ManagerContext, svc: Service, tasks: Task[]): unknown {
  const u = svc.update;
  if (!u) return null;
  const now = Date.now();
  const done = tasks.filter((t) => t.desired === 'running' && t.version === u.to && stableIn(t, svc, now) === 0).length;
  return { ...u, done: Math.min(done, svc.spec.replicas), total: svc.spec.replicas };
}

function view(ctx: ManagerContext, svc: Service): unknown {
  const tasks = ctx.state.cluster.tasksOf(svc.id);
  const running = tasks.filter((t) => t.desired === 'running' && t.state === 'running').length;
  const placed = tasks.filter((t) => t.desired === 'running' && t.nodeId !== null && !TERMINAL.has(t.state)).length;
  const desired = svc.state === 'active' ? svc.spec.replicas : 0;
  return { id: svc.id, name: svc.name, version: svc.version, taskVersion: svc.taskVersion, state: svc.state, spec: svc.spec, running, placed, desired, update: updateView(ctx, svc, tasks), createdAt: svc.createdAt, updatedAt: svc.updatedAt };
}

function resultOf(res: ClusterResult): Extract<ClusterResult, { ok: true }> {
  if (res.ok) return res;
  if ((res.code as string) === 'idempotency-key-reused') throw new ApiError(422, 'idempotency-key-reused', 'this Idempotency-Key was already used for a different request (by this caller); use a fresh key for a new request');
  if (res.code === 'not-found') throw new ApiError(404, 'not-found', res.message);
  if (res.code === 'version-mismatch') throw new ApiError(409, 'version-mismatch', `${res.message}; the service changed meanwhile, retry`);
  throw new ApiError(400, res.code, res.message);
}

function found(ctx: ManagerContext, idOrName: string): Service {
  const svc = ctx.state.cluster.findService(idOrName);
  if (!svc) throw new ApiError(404, 'not-found', `service ${idOrName} does not exist`);
  return svc;
}

export const serviceRoutes: FastifyPluginAsync<{ ctx: ManagerContext }> = async (app, { ctx }) => {
  app.post<{ Body: unknown }>('/v1/services', { schema: { body: { type: 'object' } } }, async (req, reply) => {
    if (await forwardIfFollower(ctx, req, reply)) return reply;
    const spec = validSpec(req.body);
    checkAllowed(ctx, spec);
    await readBarrier(ctx, false);
    checkFits(ctx, spec);
    const res = resultOf((await propose(ctx, req, { op: 'service.upsert', ts: Date.now(), serviceId: newId(), spec })) as ClusterResult);
    if (!('service' in res)) throw new ApiError(500, 'internal', 'unexpected result');
    reply.code('created' in res && res.created ? 201 : 200);
    return view(ctx, res.service);
  });

  app.get<{ Querystring: { stale?: boolean } }>('/v1/services', { schema: { querystring: staleQuery } }, async (req) => {
    await readBarrier(ctx, req.query.stale === true);
    return [...ctx.state.cluster.services.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((s) => view(ctx, s));
  });

  app.get<{ Params: { id: string }; Querystring: { stale?: boolean; tasks?: boolean; index?: number; wait?: number } }>('/v1/services/:id', { schema: { params: idParams, querystring: serviceQuery } }, async (req, reply) => {
    await readBarrier(ctx, req.query.stale === true);
    const index = req.query.index;
    if (index !== undefined) await untilState(ctx, () => ctx.state.cluster.revision !== index, req.query.wait ?? 0, req.raw);
    reply.header('x-orch-index', String(ctx.state.cluster.revision));
    const svc = found(ctx, req.params.id);
    if (req.query.tasks === false) return view(ctx, svc);
    const tasks = ctx.state.cluster.tasksOf(svc.id).sort((a, b) => a.slot - b.slot || a.createdAt - b.createdAt);
    // The same JSON as { ...view, tasks }, encoded now (the state as of the read) but in pieces:
    // with 100,000 tasks one string (and the buffer it is written from) would take 40 MB each.
    const head = JSON.stringify(view(ctx, svc));
    const chunks = [`${head.slice(0, -1)},"tasks":[`];
    for (let k = 0; k < tasks.length; k += 200) chunks.push((k > 0 ? ',' : '') + tasks.slice(k, k + 200).map((t) => JSON.stringify(t)).join(','));
    chunks.push(']}');
    return reply.type('application/json; charset=utf-8').send(Readable.from(chunks, { objectMode: false }));
  });

  app.patch<{ Params: { id: string }; Body: Record<string, unknown> }>(
    '/v1/services/:id',
    { schema: { params: idParams, body: { type: 'object', minProperties: 1 } } },
    async (req, reply) => {
      if (await forwardIfFollower(ctx, req, reply)) return reply;
      await readBarrier(ctx, false);
      const svc = found(ctx, req.params.id);
      if ('name' in req.body && req.body.name !== svc.name) throw new ApiError(400, 'bad-request', 'body.name: a service cannot be renamed; create a new one');
      const spec = validSpec({ ...specToInput(svc.spec), ...req.body });
      checkAllowed(ctx, spec);
      checkFits(ctx, spec);
      const res = resultOf((await propose(ctx, req, { op: 'service.upsert', ts: Date.now(), serviceId: svc.id, spec, expectVersion: svc.version })) as ClusterResult);
      return 'service' in res ? view(ctx, res.service) : null;
    },
  );

  app.delete<{ Params: { id: string } }>('/v1/services/:id', { schema: { params: idParams } }, async (req, reply) => {
    if (await forwardIfFollower(ctx, req, reply)) return reply;
    const res = resultOf((await propose(ctx, req, { op: 'service.stop', ts: Date.now(), service: req.params.id })) as ClusterResult);
    return 'service' in res ? view(ctx, res.service) : null;
  });

  app.post<{ Params: { id: string } }>('/v1/services/:id/rollback', { schema: { params: idParams } }, async (req, reply) => {
    if (await forwardIfFollower(ctx, req, reply)) return reply;
    await readBarrier(ctx, false);
    const svc = found(ctx, req.params.id);
    const u = svc.update;
    if (!u || u.state === 'rolling-back' || u.state === 'rolled-back' || !svc.specs[u.from]) {
      throw new ApiError(409, 'nothing-to-roll-back', `service ${svc.name} has no update to roll back${u ? ` (its last update is ${u.state})` : ''}`);
    }
    const res = resultOf((await propose(ctx, req, { op: 'service.update', ts: Date.now(), serviceId: svc.id, to: u.to, action: 'rollback', message: 'rolled back on request' })) as ClusterResult);
    return 'service' in res ? view(ctx, res.service) : null;
  });

  app.get<{ Querystring: { service?: string; node?: string; state?: string; all?: boolean; stale?: boolean } }>(
    '/v1/tasks',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            service: { type: 'string', maxLength: 128 },
            node: { type: 'string', maxLength: 128 },
            state: { type: 'string', enum: ['pending', 'assigned', 'starting', 'running', 'complete', 'failed', 'shutdown', 'lost'] },
            all: { type: 'boolean' },
            stale: { type: 'boolean' },
          },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      await readBarrier(ctx, req.query.stale === true);
      const q = req.query;
      const svc = q.service ? found(ctx, q.service) : undefined;
      const out: Task[] = [];
      for (const t of ctx.state.cluster.tasks.values()) {
        if (svc && t.serviceId !== svc.id) continue;
        if (q.node && t.nodeId !== q.node) continue;
        if (q.state && t.state !== q.state) continue;
        if (!q.all && !q.state && TERMINAL.has(t.state)) continue;
        out.push(t);
      }
      return out.sort((a, b) => (a.serviceName < b.serviceName ? -1 : a.serviceName > b.serviceName ? 1 : a.slot - b.slot || a.createdAt - b.createdAt));
    },
  );

  app.get<{ Params: { id: string }; Querystring: { stale?: boolean } }>('/v1/tasks/:id', { schema: { params: idParams, querystring: staleQuery } }, async (req) => {
    await readBarrier(ctx, req.query.stale === true);
    const t = ctx.state.cluster.tasks.get(req.params.id);
    if (!t) throw new ApiError(404, 'not-found', `task ${req.params.id} does not exist`);
    return t;
  });

  app.get<{ Params: { id: string }; Querystring: { follow?: boolean; tail?: number } }>(
    '/v1/tasks/:id/logs',
    {
      schema: {
        params: idParams,
        querystring: { type: 'object', properties: { follow: { type: 'boolean' }, tail: { type: 'integer', minimum: 0, maximum: 100_000 } }, additionalProperties: false },
      },
    },
    async (req, reply) => {
      await readBarrier(ctx, false);
      const t = ctx.state.cluster.tasks.get(req.params.id);
      if (!t) throw new ApiError(404, 'not-found', `task ${req.params.id} does not exist`);
      if (!t.containerId || !t.nodeId) throw new ApiError(409, 'no-container', `task ${t.id} has no container (it is ${t.state})`);
      const n = ctx.state.cluster.nodes.get(t.nodeId);
      if (!n) throw new ApiError(409, 'no-node', `task ${t.id}'s node ${t.nodeId} is not known`);
      // What a node said about itself is checked again before a URL is made of it (the state
      // machine refuses other shapes, but a state from before that check may hold one).
      if (!isNodeAddress(n.address)) throw new ApiError(502, 'bad-node-address', `node ${n.name} registered the address ${JSON.stringify(String(n.address).slice(0, 80))}, which is not host:port; its logs cannot be fetched`);
      if (!CONTAINER_ID.test(t.containerId)) throw new ApiError(502, 'bad-container-id', `task ${t.id}'s container id is not a Docker id`);
      const q = new URLSearchParams();
      if (req.query.follow) q.set('follow', 'true');
      if (req.query.tail !== undefined) q.set('tail', String(req.query.tail));
      let res;
      try {
        res = await request(ctx.net.url(n.address, `/v1/containers/${t.containerId}/logs?${q}`), { dispatcher: ctx.net.worker(n.id), headersTimeout: 5000, bodyTimeout: req.query.follow ? 0 : 30_000 });
      } catch (err) {
        throw new ApiError(503, 'node-unreachable', `node ${n.name} (${n.address}) did not answer: ${(err as Error).message}`);
      }
      if (res.statusCode !== 200) {
        const text = await res.body.text();
        throw new ApiError(res.statusCode === 404 ? 404 : 502, 'logs-unavailable', `node ${n.name}: ${text.slice(0, 300)}`);
      }
      req.raw.on('close', () => res.body.destroy());
      // A quiet container sends nothing for long: a follow is not idle, it waits.
      if (req.query.follow) req.raw.socket.setTimeout(0);
      return reply.type('text/plain; charset=utf-8').send(res.body);
    },
  );

  app.delete<{ Params: { id: string } }>('/v1/tasks/:id', { schema: { params: idParams } }, async (req, reply) => {
    if (await forwardIfFollower(ctx, req, reply)) return reply;
    await readBarrier(ctx, false);
    const t = ctx.state.cluster.tasks.get(req.params.id);
    if (!t) throw new ApiError(404, 'not-found', `task ${req.params.id} does not exist`);
    resultOf((await propose(ctx, req, { op: 'task.shutdown', ts: Date.now(), ids: [t.id], terminal: [t.id] })) as ClusterResult);
    return ctx.state.cluster.tasks.get(t.id);
  });

  app.patch<{ Params: { id: string }; Body: { availability: NodeRecord['availability'] } }>(
    '/v1/nodes/:id',
    {
      schema: {
        params: idParams,
        body: { type: 'object', properties: { availability: { type: 'string', enum: ['active', 'pause', 'drain'] } }, required: ['availability'], additionalProperties: false },
      },
    },
    async (req, reply) => {
      if (await forwardIfFollower(ctx, req, reply)) return reply;
      await readBarrier(ctx, false);
      const nodes = [...ctx.state.cluster.nodes.values()];
      const n = ctx.state.cluster.nodes.get(req.params.id) ?? nodes.find((x) => x.name === req.params.id);
      if (!n) throw new ApiError(404, 'not-found', `node ${req.params.id} does not exist (give its name or id, see orch nodes)`);
      resultOf((await propose(ctx, req, { op: 'node.availability', ts: Date.now(), nodeId: n.id, availability: req.body.availability })) as ClusterResult);
      return ctx.state.cluster.nodes.get(n.id);
    },
  );

  app.get<{ Querystring: { stale?: boolean } }>('/v1/nodes', { schema: { querystring: staleQuery } }, async (req, reply) => {
    // Live usage lives in the leader's memory: a follower asks the leader (unless told stale is fine).
    if (req.query.stale !== true && (await forwardIfFollower(ctx, req, reply))) return reply;
    await readBarrier(ctx, req.query.stale === true);
    const reserved = new Map<string, { cpu: number; memory: number; disk: number }>();
    for (const t of ctx.state.cluster.tasks.values()) {
      if (!t.nodeId || TERMINAL.has(t.state)) continue;
      const svc = ctx.state.cluster.services.get(t.serviceId);
      if (!svc) continue;
      const r = specOf(svc, t.version).resources;
      const acc = reserved.get(t.nodeId) ?? { cpu: 0, memory: 0, disk: 0 };
      acc.cpu += r.cpu;
      acc.memory += r.memory;
      acc.disk += r.disk;
      reserved.set(t.nodeId, acc);
    }
    // Live usage is the leader's, from heartbeats (a follower has none: it forwards nothing here).
    return [...ctx.state.cluster.nodes.values()].map((n) => ({ ...n, reserved: reserved.get(n.id) ?? { cpu: 0, memory: 0, disk: 0 }, usage: ctx.usage?.(n.id) ?? null }));
  });
};

