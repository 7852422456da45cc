// /v1/nodes: the workers as the user sees them, a node's availability (drain, pause, activate), and
// removing a node for good (its certificate is revoked). The routes workers call are in node-protocol.ts.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AvailabilityBody, NodeInfo, NodeRecord, NodeRemoved, type Reserved } from '../../api/nodes.js';
import { ErrorAnswers, IdParams, StaleQuery } from '../../api/params.js';
import { TERMINAL } from '../../api/tasks.js';
import type { ManagerContext } from '../context.js';
import { specOf, type ClusterResult } from '../state/cluster-state.js';
import { resultOf } from './cluster-result.js';
import { forwardIfFollower, propose, readBarrier, targetOfWrite } from './consensus.js';
import { ApiError } from './errors.js';

/** A node to remove, by id or name (any name it registered, hence no pattern). */
const RemoveParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
/** ?force=true: remove a node that is still up. */
const RemoveQuery = Type.Object({ force: Type.Optional(Type.Boolean()) }, { additionalProperties: false });

export const nodeRoutes: FastifyPluginAsync<{ ctx: ManagerContext }> = async (base, { ctx }) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.patch('/v1/nodes/:id', { config: { access: 'admin' }, schema: { params: IdParams, body: AvailabilityBody, response: { 200: NodeRecord, ...ErrorAnswers } } }, async (req, reply) => {
    if (await forwardIfFollower(ctx, req, reply)) return reply;
    const n = await targetOfWrite(ctx, () => ctx.state.cluster.nodes.get(req.params.id) ?? [...ctx.state.cluster.nodes.values()].find((x) => x.name === req.params.id));
    if (!n) throw new ApiError(404, 'not-found', `node ${req.params.id} does not exist (give its name or id, see orch nodes)`);
    resultOf((await propose(ctx, req, { op: 'node.availability', ts: Date.now(), nodeId: n.id, availability: req.body.availability })) as ClusterResult);
    return ctx.state.cluster.nodes.get(n.id);
  });

  app.get('/v1/nodes', { config: { access: 'read' }, schema: { querystring: StaleQuery, response: { 200: Type.Array(NodeInfo), ...ErrorAnswers } } }, async (req, reply) => {
    // Live usage lives in the leader's memory: a follower asks the leader (unless told stale is fine).
    if (req.query.stale !== true && (await forwardIfFollower(ctx, req, reply))) return reply;
    await readBarrier(ctx, req.query.stale === true);
    const reserved = new Map<string, Reserved>();
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

  app.delete('/v1/nodes/:id', { config: { access: 'admin' }, schema: { params: RemoveParams, querystring: RemoveQuery, response: { 200: NodeRemoved, ...ErrorAnswers } } }, async (req, reply) => {
    if (await forwardIfFollower(ctx, req, reply)) return reply;
    const cluster = ctx.state.cluster;
    const n = cluster.nodes.get(req.params.id) ?? [...cluster.nodes.values()].find((x) => x.name === req.params.id);
    if (!n) throw new ApiError(404, 'not-found', `no node ${req.params.id}`);
    if (n.status === 'ready' && !req.query.force) throw new ApiError(409, 'node-alive', `node ${n.name} is up; drain it and stop its worker first, or remove it with --force`);
    const res = (await propose(ctx, req, { op: 'node.remove', ts: Date.now(), nodeId: n.id })) as ClusterResult;
    if (!res.ok) throw new ApiError(404, res.code, res.message);
    return { id: n.id, name: n.name, removed: true as const, tasksLost: 'tasks' in res ? res.tasks : 0 };
  });
};
