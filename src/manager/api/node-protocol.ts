// The routes workers use: register, heartbeat (with batched task reports), and a long-poll for the
// node's assignments. Served by the leader; a follower forwards them.
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorAnswers } from '../../api/params.js';
import { Assignments, AssignmentsQuery, HeartbeatAnswer, HeartbeatBody, NodeIdParams, NodeRegistration, RegisterAnswer, SessionQuery } from '../../api/nodes.js';
import type { ManagerContext } from '../context.js';
import type { Liveness } from '../liveness.js';
import type { NetworkFaults } from '../faults.js';
import { specOf, type ClusterResult } from '../state/cluster-state.js';
import { ApiError } from './errors.js';
import { forwardIfFollower, propose } from './consensus.js';
import { untilState } from './state-wait.js';
import { isNodeAddress } from '../../api/address.js';
import { NodeSessions } from '../sessions.js';

export interface WorkerRoutesOptions {
  ctx: ManagerContext;
  liveness: Liveness;
  /** Injected faults (chaos runs only): requests of isolated workers are refused. */
  faults?: NetworkFaults;
}

export const workerRoutes: FastifyPluginAsync<WorkerRoutesOptions> = async (base, { ctx, liveness, faults }) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  // A silent holder gives way one heartbeat before its node would be declared down.
  const sessions = new NodeSessions(Math.max(1, liveness.missed - 1) * liveness.heartbeatMs);
  /**
   * A removed node is told so. The certificate check (auth.ts) says it first on a TLS cluster; this
   * says it on an --insecure one too, so that its worker stops its containers there as well.
   */
  const refuseRemoved = (id: string) => {
    if (ctx.state.cluster.removedNodes.has(id)) throw new ApiError(403, 'revoked', `node ${id} was removed from the cluster; join again as a new node (with a new data dir)`);
  };
  /** Refuses a request of another agent than the one that runs node `id` (see ../sessions.ts). */
  const claim = (id: string, s: string | undefined) => {
    const no = sessions.claim(id, s, ctx.node.term(), Date.now());
    if (!no) return;
    throw new ApiError(
      409,
      'node-session-taken',
      `node ${id} is run by another agent, heard from ${no.heardMsAgo} ms ago: two agents with one identity (a copy of a worker's data dir?) cannot both run it, and this one is refused`,
      { ...no, staleMs: sessions.staleMs },
    );
  };
  if (faults) {
    app.addHook('preHandler', async (req) => {
      const id = (req.params as { id?: string }).id ?? (req.body as { id?: string } | undefined)?.id;
      if (id && faults.workerIsolated(id)) throw new ApiError(503, 'partitioned', `node ${id} is cut off from this manager (chaos fault)`);
    });
  }

  app.post(
    '/v1/nodes/register',
    { config: { access: 'worker' }, schema: { querystring: SessionQuery, body: NodeRegistration, response: { 200: RegisterAnswer, ...ErrorAnswers } } },
    async (req, reply) => {
      if (await forwardIfFollower(ctx, req, reply)) return reply;
      refuseRemoved(req.body.id);
      if (!isNodeAddress(req.body.address)) throw new ApiError(400, 'bad-address', `body.address: expected this node's host:port (e.g. 10.0.0.5:7100), got ${JSON.stringify(String(req.body.address).slice(0, 80))}`);
      const sameName = [...ctx.state.cluster.nodes.values()].find((n) => n.name === req.body.name && n.id !== req.body.id);
      if (sameName) throw new ApiError(409, 'name-taken', `a node named ${req.body.name} already exists (id ${sameName.id}); choose another --name or reuse its data dir`);
      claim(req.body.id, req.query.session);
      await propose(ctx, req, { op: 'node.register', ts: Date.now(), node: req.body });
      liveness.seen(req.body.id, null);
      return { id: req.body.id, managers: [...ctx.addresses.values()], term: ctx.node.term() };
    },
  );

  app.post(
    '/v1/nodes/:id/heartbeat',
    { config: { access: 'worker' }, schema: { params: NodeIdParams, querystring: SessionQuery, body: HeartbeatBody, response: { 200: HeartbeatAnswer, ...ErrorAnswers } } },
    async (req, reply) => {
      if (await forwardIfFollower(ctx, req, reply)) return reply;
      refuseRemoved(req.params.id);
      const n = ctx.state.cluster.nodes.get(req.params.id);
      if (!n) throw new ApiError(404, 'unknown-node', `node ${req.params.id} is not registered; register first`);
      claim(n.id, req.query.session);
      liveness.seen(n.id, req.body.usage ?? null);
      const reports = req.body.reports ?? [];
      if (reports.length > 0) {
        const res = (await propose(ctx, req, { op: 'task.report', ts: Date.now(), nodeId: n.id, reports })) as ClusterResult;
        if (!res.ok) throw new ApiError(400, res.code, res.message);
      }
      return { term: ctx.node.term(), leader: ctx.self, managers: [...ctx.addresses.values()] };
    },
  );

  // With tasks the answer is streamed (encoded by hand, below); `unchanged` is serialized by the schema.
  app.get(
    '/v1/nodes/:id/assignments',
    { config: { access: 'worker' }, schema: { params: NodeIdParams, querystring: AssignmentsQuery, response: { 200: Assignments, ...ErrorAnswers } } },
    async (req, reply) => {
      if (await forwardIfFollower(ctx, req, reply)) return reply;
      const id = req.params.id;
      refuseRemoved(id);
      if (!ctx.state.cluster.nodes.has(id)) throw new ApiError(404, 'unknown-node', `node ${id} is not registered; register first`);
      claim(id, req.query.session);
      const since = req.query.since ?? -1;
      // Until the node's assignments change (or this manager stops leading).
      await untilState(ctx, () => (ctx.state.cluster.assignVersion.get(id) ?? 0) !== since || !ctx.node.isLeader(), req.query.wait ?? 0, req.raw);
      const cluster = ctx.state.cluster;
      const version = cluster.assignVersion.get(id) ?? 0;
      // Nothing changed while the poll waited: the same tasks are not encoded and sent again (on a
      // large cluster that was most of the leader's garbage).
      if (since >= 0 && version === since) return { term: ctx.node.term(), version, unchanged: true as const };
      // Written by hand: a node's thousand tasks mostly share one spec, which is encoded once.
      const specJson = new Map<unknown, string>();
      const parts: string[] = [];
      for (const t of cluster.assignmentsOf(id)) {
        const svc = cluster.services.get(t.serviceId);
        const spec = svc ? specOf(svc, t.version) : null;
        let sj = specJson.get(spec);
        if (sj === undefined) specJson.set(spec, (sj = JSON.stringify(spec)));
        const head = JSON.stringify({ id: t.id, serviceId: t.serviceId, serviceName: t.serviceName, slot: t.slot, desired: t.desired, state: t.state, containerId: t.containerId });
        parts.push(`${head.slice(0, -1)},"spec":${sj}}`);
      }
      // Sent in pieces: a node with 1,000 tasks gets a body of about a megabyte.
      const chunks = [`{"term":${ctx.node.term()},"version":${version},"tasks":[`];
      for (let k = 0; k < parts.length; k += 100) chunks.push((k > 0 ? ',' : '') + parts.slice(k, k + 100).join(','));
      chunks.push(']}');
      // The stream is an Assignments; the type provider only knows objects, hence the cast.
      return reply.type('application/json; charset=utf-8').send(Readable.from(chunks, { objectMode: false }) as never);
    },
  );
};
