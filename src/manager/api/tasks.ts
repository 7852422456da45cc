// /v1/tasks: what became of the services' replicas, a task stopped by hand, and its logs (relayed
// from the worker that runs it).
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { request } from 'undici';
import { Type } from '@sinclair/typebox';
import { isNodeAddress } from '../../api/address.js';
import { ErrorAnswers, IdParams, StaleQuery } from '../../api/params.js';
import { Task, TaskListQuery, TaskLogsQuery, TERMINAL } from '../../api/tasks.js';
import type { ManagerContext } from '../context.js';
import { CONTAINER_ID, type ClusterResult } from '../state/cluster-state.js';
import { found, resultOf } from './cluster-result.js';
import { forwardIfFollower, propose, readBarrier, targetOfWrite } from './consensus.js';
import { ApiError } from './errors.js';
import { plainJson } from './plain-json.js';

export const taskRoutes: FastifyPluginAsync<{ ctx: ManagerContext }> = async (base, { ctx }) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.get('/v1/tasks', { config: { access: 'read' }, serializerCompiler: plainJson, schema: { querystring: TaskListQuery, response: { 200: Type.Array(Task), ...ErrorAnswers } } }, async (req) => {
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
  });

  app.get('/v1/tasks/:id', { config: { access: 'read' }, schema: { params: IdParams, querystring: StaleQuery, response: { 200: Task, ...ErrorAnswers } } }, async (req) => {
    await readBarrier(ctx, req.query.stale === true);
    const t = ctx.state.cluster.tasks.get(req.params.id);
    if (!t) throw new ApiError(404, 'not-found', `task ${req.params.id} does not exist`);
    return t;
  });

  // The answer is the container's output as text/plain, streamed: no JSON schema for a 200.
  app.get('/v1/tasks/:id/logs', { config: { access: 'read' }, schema: { params: IdParams, querystring: TaskLogsQuery, response: ErrorAnswers } }, async (req, reply) => {
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
    return reply.type('text/plain; charset=utf-8').send(res.body as never); // text, which no JSON schema types
  });

  app.delete('/v1/tasks/:id', { config: { access: 'admin' }, schema: { params: IdParams, response: { 200: Task, ...ErrorAnswers } } }, async (req, reply) => {
    if (await forwardIfFollower(ctx, req, reply)) return reply;
    const t = await targetOfWrite(ctx, () => ctx.state.cluster.tasks.get(req.params.id));
    if (!t) throw new ApiError(404, 'not-found', `task ${req.params.id} does not exist`);
    resultOf((await propose(ctx, req, { op: 'task.shutdown', ts: Date.now(), ids: [t.id], terminal: [t.id] })) as ClusterResult);
    return ctx.state.cluster.tasks.get(t.id);
  });
};
