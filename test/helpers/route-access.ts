// The access a route declares in its own config (`config: { access }`), read by registering its
// plugin on a bare fastify app: what auth.ts's accessOf finds for it at request time.
import Fastify, { type FastifyPluginAsync, type FastifyPluginOptions } from 'fastify';
import type { Access } from '../../src/manager/api/auth.js';

export async function declaredAccess<O extends FastifyPluginOptions>(plugin: FastifyPluginAsync<O>, opts: O, method: string, url: string): Promise<Access | undefined> {
  const app = Fastify();
  let access: Access | undefined;
  let seen = false;
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    if (r.url === url && methods.includes(method)) {
      seen = true;
      access = r.config?.access;
    }
  });
  await app.register(plugin as FastifyPluginAsync, opts);
  await app.ready();
  await app.close();
  if (!seen) throw new Error(`no route ${method} ${url} in that plugin`);
  return access;
}
