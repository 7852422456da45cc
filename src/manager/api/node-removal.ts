// DELETE /v1/nodes/:id (admin): removes a node, which revokes its certificate. Moved here as it
// was out of the old security routes; it belongs with the nodes' routes.
import type { FastifyPluginAsync } from 'fastify';
import type { ManagerContext } from '../context.js';
import type { ClusterResult } from '../state/cluster-state.js';
import { ApiError } from './errors.js';
import { forwardIfFollower, propose } from './consensus.js';

export const nodeRemovalRoutes: FastifyPluginAsync<{ ctx: ManagerContext }> = async (app, { ctx }) => {
  app.delete<{ Params: { id: string }; Querystring: { force?: boolean } }>(
    '/v1/nodes/:id',
    {
      config: { access: 'admin' },
      schema: {
        params: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 128 } }, required: ['id'] },
        querystring: { type: 'object', properties: { force: { type: 'boolean' } }, additionalProperties: false },
      },
    },
    async (req, reply) => {
      if (await forwardIfFollower(ctx, req, reply)) return reply;
      const cluster = ctx.state.cluster;
      const n = cluster.nodes.get(req.params.id) ?? [...cluster.nodes.values()].find((x) => x.name === req.params.id);
      if (!n) throw new ApiError(404, 'not-found', `no node ${req.params.id}`);
      if (n.status === 'ready' && !req.query.force) throw new ApiError(409, 'node-alive', `node ${n.name} is up; drain it and stop its worker first, or remove it with --force`);
      const res = (await propose(ctx, req, { op: 'node.remove', ts: Date.now(), nodeId: n.id })) as ClusterResult;
      if (!res.ok) throw new ApiError(404, res.code, res.message);
      return { id: n.id, name: n.name, removed: true, tasksLost: 'tasks' in res ? res.tasks : 0 };
    },
  );
};
