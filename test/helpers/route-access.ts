// Who may call a route, as the manager decides it: the manager's real route plugins on a bare
// fastify app, each request answered by auth.ts's own accessOf (a route's declared access, or the
// read/admin by method for a path that matches no route) before any validation or handler runs.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Access } from '../../src/manager/api/auth.js';
import { accessOf } from '../../src/manager/api/auth.js';
import { clusterRoutes } from '../../src/manager/api/cluster.js';
import { eventRoutes } from '../../src/manager/api/events.js';
import { joinRoutes } from '../../src/manager/api/join.js';
import { kvRoutes } from '../../src/manager/api/kv.js';
import { serviceRoutes } from '../../src/manager/api/services.js';
import { tokenRoutes } from '../../src/manager/api/tokens.js';
import { uiRoutes } from '../../src/manager/api/ui.js';
import { workerRoutes } from '../../src/manager/api/node-protocol.js';
import { taskRoutes } from '../../src/manager/api/tasks.js';
import { nodeRoutes } from '../../src/manager/api/nodes.js';
import { raftRoutes } from '../../src/raft/index.js';

/** The routes read nothing from these at registration; a request never reaches a handler. */
const unused = {} as never;

export interface RouteAccess {
  /** The access `method url` needs, and the route pattern it matched (null: no route). */
  (method: string, url: string): Promise<{ access: Access; route: string | null }>;
}

/** The manager's routes, answering every request with the access it needs; closed at teardown. */
export async function routeAccess(t: { teardown(f: () => unknown): void }): Promise<RouteAccess> {
  const app: FastifyInstance = Fastify();
  t.teardown(() => app.close());
  // Sent as text: the routes' answer schemas would serialize (and refuse) an object.
  app.addHook('onRequest', async (req, reply) => reply.type('application/json').send(JSON.stringify({ access: accessOf(req), route: req.routeOptions.url ?? null })));
  await app.register(raftRoutes, { self: 1, clusterId: 'c', peers: () => new Map(), receive: () => undefined } as never);
  await app.register(joinRoutes, { ctx: unused });
  await app.register(tokenRoutes, { ctx: unused });
  await app.register(kvRoutes, { ctx: unused });
  await app.register(eventRoutes, { ctx: unused });
  await app.register(uiRoutes);
  await app.register(clusterRoutes, { ctx: unused, clusterId: 'c', electionMs: 1000, onRemoved: () => undefined });
  await app.register(serviceRoutes, { ctx: unused });
  await app.register(taskRoutes, { ctx: unused });
  await app.register(nodeRoutes, { ctx: unused });
  await app.register(workerRoutes, { ctx: unused, liveness: { missed: 3, heartbeatMs: 1000 } as never, faults: undefined });
  await app.ready();
  return async (method, url) => {
    const res = await app.inject({ method: method as 'GET', url });
    return res.json() as { access: Access; route: string | null };
  };
}

