// The access a route of the services, tasks and nodes plugins declares in its config (as accessOf
// reads it for a request), found by registering the plugins on a bare fastify and listing routes.
import Fastify from 'fastify';
import { tableAccess, type Access } from '../../src/manager/api/auth.js';
import { workerRoutes } from '../../src/manager/api/node-protocol.js';
import { nodeRoutes } from '../../src/manager/api/nodes.js';
import { serviceRoutes } from '../../src/manager/api/services.js';
import { taskRoutes } from '../../src/manager/api/tasks.js';
import type { ManagerContext } from '../../src/manager/context.js';
import type { Liveness } from '../../src/manager/liveness.js';

let declared: Promise<Map<string, Access | undefined>> | null = null;

async function declaredAccess(): Promise<Map<string, Access | undefined>> {
  const app = Fastify();
  const out = new Map<string, Access | undefined>();
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) out.set(`${m} ${r.url}`, (r.config as { access?: Access } | undefined)?.access);
  });
  // Registering only defines the routes: no handler runs, so the context is never read.
  const ctx = {} as ManagerContext;
  await app.register(serviceRoutes, { ctx });
  await app.register(taskRoutes, { ctx });
  await app.register(nodeRoutes, { ctx });
  await app.register(workerRoutes, { ctx, liveness: { missed: 3, heartbeatMs: 1000 } as Liveness });
  await app.ready();
  await app.close();
  return out;
}

/** What accessOf gives a request to `method url`: the route's declared access, else the table's. */
export async function routeAccess(method: string, url: string): Promise<Access> {
  declared ??= declaredAccess();
  return (await declared).get(`${method} ${url}`) ?? tableAccess(method, url);
}
