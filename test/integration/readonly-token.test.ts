// A read-only token calls every write route a manager serves, over real TLS, against manager
// processes: every call is refused and nothing changes. The routes are read from a manager's own
// route table, so a route added later is tried too.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessCluster } from '../helpers/cluster.js';
import { singleManager } from '../helpers/single-manager.js';
import { tlsCall } from '../helpers/tls-call.js';

/** Every (method, path) in fastify's printRoutes tree, with its parameters filled in. */
function routesOf(tree: string): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    const seg = m[2];
    const parent = depth === 0 ? '' : stack[depth - 1];
    const path = depth === 0 ? seg : seg.startsWith('/') || parent.endsWith('/') ? parent + seg : `${parent}/${seg}`;
    stack[depth] = path;
    stack.length = depth + 1;
    for (const method of (m[3] ?? '').split(',').map((x) => x.trim()).filter(Boolean)) out.push({ method, path: path.startsWith('/') ? path : `/${path}` });
  }
  return out;
}

t.test('a read-only token is refused on every write route', async (t) => {
  const local = await singleManager(t);
  const routes = routesOf(local.app.printRoutes({ commonPrefix: false })).filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
  t.ok(routes.length >= 15, `${routes.length} write routes found: ${routes.map((r) => `${r.method} ${r.path}`).join(', ')}`);

  const c = await ProcessCluster.start({ secure: true, managers: 1 });
  t.teardown(() => c.stop());
  await c.waitForLeader(30_000);
  const tokens = c.tokens();
  const ca = readFileSync(join(c.managers[0].dataDir, 'tls', 'ca.pem'), 'utf8');
  const admin = (path: string) => tlsCall(ca, c.addresses[0], path, { token: tokens.admin });
  // Something for the writes to aim at.
  await tlsCall(ca, c.addresses[0], '/v1/services', { method: 'POST', token: tokens.admin, body: { name: 'web', image: 'orch/busybox:latest', replicas: 1 } });
  await tlsCall(ca, c.addresses[0], '/v1/kv/k', { method: 'PUT', token: tokens.admin, body: { value: 'v' } });
  const snapshot = async () => JSON.stringify([(await admin('/v1/services')).json, (await admin('/v1/kv/k')).json, (await admin('/v1/tokens/api')).json, (await admin('/v1/tokens/worker')).json]);
  const before = await snapshot();

  const fill = (path: string) => path.replace(/:id\b/g, 'web').replace(/:role\b/g, 'worker').replace(/:name\b/g, 'admin').replace(/\*$/, 'k');
  const bodies: Record<string, unknown> = { '/v1/join': { token: tokens.readonly, role: 'worker', csr: 'x'.repeat(200), name: 'aaaaaaaaaaaa' } };
  for (const r of routes) {
    const path = fill(r.path);
    const res = await tlsCall(ca, c.addresses[0], path, { method: r.method as 'POST', token: tokens.readonly, body: bodies[r.path] ?? {} });
    t.ok(res.status === 401 || res.status === 403, `${r.method} ${path}: ${res.status} ${res.json?.error?.code ?? ''}`);
  }
  t.equal(await snapshot(), before, 'nothing changed: services, keys, API tokens, join tokens');
});
