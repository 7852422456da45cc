// /v1/services: the user's desired state, and how far the cluster has come to it.
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ServiceQuery, ServiceView, ServiceWithTasks, type Service, type UpdateView } from '../../api/services.js';
import { formatConstraint } from '../../api/spec.js';
import { ErrorAnswers, IdParams, StaleQuery } from '../../api/params.js';
import { TERMINAL, type Task } from '../../api/tasks.js';
import { formatBytes, normalizeSpec, SpecError, type ServiceSpec } from '../../spec/index.js';
import type { ManagerContext } from '../context.js';
import { newId } from '../ids.js';
import type { ClusterResult } from '../state/cluster-state.js';
import { stableIn } from '../reconciler.js';
import { found, resultOf } from './cluster-result.js';
import { ApiError } from './errors.js';
import { plainJson } from './plain-json.js';
import { settingsOf } from './cluster.js';
import { forwardIfFollower, propose, readBarrier } from './consensus.js';
import { untilState } from './state-wait.js';
import { upsertOutcome, WRITE_OUTCOME } from '../../api/headers.js';

/** A spec as a person writes it: normalizeSpec checks it, naming every problem (not the schema validator). */
const SpecBody = Type.Unsafe<Record<string, unknown>>({ type: 'object' });
/** A PATCH: the fields to change, merged over the current spec and checked like a POST. */
const PatchBody = Type.Unsafe<Record<string, unknown>>({ type: 'object', minProperties: 1 });
/** A service's answer to a write: the service as it is now. */
const written = { 200: ServiceView, ...ErrorAnswers } as const;

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
    constraints: s.constraints.map(formatConstraint),
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
function updateView(ctx: ManagerContext, svc: Service, tasks: Task[]): UpdateView | null {
  const u = svc.update;
  if (!u) return null;
  const now = Date.now();
  const done = tasks.filter((t) => t.desired === 'running' && t.version === u.to && stableIn(t, svc, now) === 0).length;
  return { ...u, done: Math.min(done, svc.spec.replicas), total: svc.spec.replicas };
}

function view(ctx: ManagerContext, svc: Service): ServiceView {
  const tasks = ctx.state.cluster.tasksOf(svc.id);
  const running = tasks.filter((t) => t.desired === 'running' && t.state === 'running').length;
  const placed = tasks.filter((t) => t.desired === 'running' && t.nodeId !== null && !TERMINAL.has(t.state)).length;
  const desired = svc.state === 'active' ? svc.spec.replicas : 0;
  return { id: svc.id, name: svc.name, version: svc.version, taskVersion: svc.taskVersion, state: svc.state, spec: svc.spec, running, placed, desired, update: updateView(ctx, svc, tasks), createdAt: svc.createdAt, updatedAt: svc.updatedAt };
}

/** The service a write left (every service command's result carries it). */
function writtenView(ctx: ManagerContext, res: Extract<ClusterResult, { ok: true }>): ServiceView {
  if (!('service' in res)) throw new ApiError(500, 'internal', 'unexpected result');
  return view(ctx, res.service);
}

export const serviceRoutes: FastifyPluginAsync<{ ctx: ManagerContext }> = async (base, { ctx }) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.post('/v1/services', { config: { access: 'admin' }, schema: { body: SpecBody, response: { 201: ServiceView, ...written } } }, async (req, reply) => {
    if (await forwardIfFollower(ctx, req, reply)) return reply;
    const spec = validSpec(req.body);
    // The settings and the nodes decide here, outside the log: read them as of now.
    await readBarrier(ctx, false);
    checkAllowed(ctx, spec);
    checkFits(ctx, spec);
    const res = resultOf((await propose(ctx, req, { op: 'service.upsert', ts: Date.now(), serviceId: newId(), spec })) as ClusterResult);
    if ('created' in res) reply.header(WRITE_OUTCOME, upsertOutcome(res));
    reply.code('created' in res && res.created ? 201 : 200);
    return writtenView(ctx, res);
  });

  app.get('/v1/services', { config: { access: 'read' }, serializerCompiler: plainJson, schema: { querystring: StaleQuery, response: { 200: Type.Array(ServiceView), ...ErrorAnswers } } }, async (req) => {
    await readBarrier(ctx, req.query.stale === true);
    return [...ctx.state.cluster.services.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((s) => view(ctx, s));
  });

  // With its tasks the answer is streamed (encoded by hand, below); ?tasks=false is serialized by the schema.
  app.get('/v1/services/:id', { config: { access: 'read' }, schema: { params: IdParams, querystring: ServiceQuery, response: { 200: Type.Union([ServiceWithTasks, ServiceView]), ...ErrorAnswers } } }, async (req, reply) => {
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
    // The stream is a ServiceWithTasks; the type provider only knows objects, hence the cast.
    return reply.type('application/json; charset=utf-8').send(Readable.from(chunks, { objectMode: false }) as never);
  });

  app.patch(
    '/v1/services/:id',
    { config: { access: 'admin' }, schema: { params: IdParams, body: PatchBody, response: written } },
    async (req, reply) => {
      if (await forwardIfFollower(ctx, req, reply)) return reply;
      // The settings and the nodes decide here, outside the log (the version check is the log's).
      await readBarrier(ctx, false);
      const svc = found(ctx, req.params.id);
      if ('name' in req.body && req.body.name !== svc.name) throw new ApiError(400, 'bad-request', 'body.name: a service cannot be renamed; create a new one');
      const spec = validSpec({ ...specToInput(svc.spec), ...req.body });
      checkAllowed(ctx, spec);
      checkFits(ctx, spec);
      const res = resultOf((await propose(ctx, req, { op: 'service.upsert', ts: Date.now(), serviceId: svc.id, spec, expectVersion: svc.version })) as ClusterResult);
      return writtenView(ctx, res);
    },
  );

  app.delete('/v1/services/:id', { config: { access: 'admin' }, schema: { params: IdParams, response: written } }, async (req, reply) => {
    if (await forwardIfFollower(ctx, req, reply)) return reply;
    const res = resultOf((await propose(ctx, req, { op: 'service.stop', ts: Date.now(), service: req.params.id })) as ClusterResult);
    return writtenView(ctx, res);
  });

  app.post('/v1/services/:id/rollback', { config: { access: 'admin' }, schema: { params: IdParams, response: written } }, async (req, reply) => {
    if (await forwardIfFollower(ctx, req, reply)) return reply;
    // Whether there is an update to roll back is decided here: applied, a stale one is a silent no-op.
    await readBarrier(ctx, false);
    const svc = found(ctx, req.params.id);
    const u = svc.update;
    if (!u || u.state === 'rolling-back' || u.state === 'rolled-back' || !svc.specs[u.from]) {
      throw new ApiError(409, 'nothing-to-roll-back', `service ${svc.name} has no update to roll back${u ? ` (its last update is ${u.state})` : ''}`);
    }
    const res = resultOf((await propose(ctx, req, { op: 'service.update', ts: Date.now(), serviceId: svc.id, to: u.to, action: 'rollback', message: 'rolled back on request' })) as ClusterResult);
    return writtenView(ctx, res);
  });

};
