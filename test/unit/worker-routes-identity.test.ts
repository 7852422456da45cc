// The worker routes on a one-manager cluster (--insecure, through fastify.inject): one agent session
// per node (src/manager/sessions.ts), and a removed node told 403 revoked on every worker route, as
// the certificate check tells it on a TLS cluster; a simulated worker then ends with one line.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { singleManager } from '../helpers/single-manager.js';
import { startWorker } from '../../src/worker/worker.js';

const node = { id: 'abcdef012345', name: 'n1', address: '127.0.0.1:1', labels: {}, capacity: { cpu: 1, memory: 2 ** 30, disk: 2 ** 30 } };
const S1 = '1'.repeat(32);
const S2 = '2'.repeat(32);

t.test('one session per node; a removed node is told so', async (t) => {
  const m = await singleManager(t, { workerHeartbeatMs: 60_000 });
  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) => m.app.inject({ method, url, payload });
  t.equal((await call('POST', `/v1/nodes/register?session=${S1}`, node)).statusCode, 200, 'the first session registers');
  t.equal((await call('POST', `/v1/nodes/${node.id}/heartbeat?session=${S1}`, {})).statusCode, 200, 'and heartbeats');
  const second = await call('POST', `/v1/nodes/register?session=${S2}`, node);
  t.equal(second.statusCode, 409, 'a second session is refused while the first is alive');
  const err = (second.json() as { error: { code: string; message: string; details: { retryInMs: number; staleMs: number } } }).error;
  t.equal(err.code, 'node-session-taken');
  t.match(err.message, /run by another agent.*this one is refused/);
  t.equal(err.details.staleMs, 120_000, 'two heartbeat periods: one less than the three that make a node down');
  t.equal((await call('GET', `/v1/nodes/${node.id}/assignments?since=-1&wait=0&session=${S2}`)).statusCode, 409, 'its polls too');
  t.equal((await call('POST', `/v1/nodes/${node.id}/heartbeat?session=${S2}`, {})).statusCode, 409, 'and its heartbeats');
  t.equal((await call('POST', `/v1/nodes/${node.id}/heartbeat?session=nothex`, {})).statusCode, 400, 'a malformed session is bad input');
  t.equal((await call('POST', `/v1/nodes/${node.id}/heartbeat`, {})).statusCode, 200, 'a request without a session is not checked');
  t.equal((await call('DELETE', `/v1/nodes/${node.id}?force=true`)).statusCode, 200, 'the node is removed');
  for (const [what, res] of [
    ['heartbeat', await call('POST', `/v1/nodes/${node.id}/heartbeat?session=${S1}`, {})],
    ['assignments', await call('GET', `/v1/nodes/${node.id}/assignments?since=-1&wait=0&session=${S1}`)],
    ['register', await call('POST', `/v1/nodes/register?session=${S1}`, node)],
  ] as const) {
    t.equal(res.statusCode, 403, `${what}: 403`);
    t.equal((res.json() as { error: { code: string } }).error.code, 'revoked', `${what}: revoked`);
  }
});

t.test('a simulated worker whose node is removed ends with one line', async (t) => {
  const m = await singleManager(t);
  const addr = m.app.server.address() as { port: number };
  const dir = mkdtempSync(join(tmpdir(), 'orch-wid-'));
  const w = await startWorker({ join: [`127.0.0.1:${addr.port}`], name: 'sim1', dataDir: dir, runtime: 'sim', insecure: true, heartbeatMs: 100, log: () => undefined });
  t.teardown(async () => {
    await w.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  t.equal((await m.app.inject({ method: 'DELETE', url: `/v1/nodes/${w.id}?force=true` })).statusCode, 200);
  const line = await Promise.race([w.ended, new Promise<string>((r) => setTimeout(() => r('not ended within 5 s'), 5000))]);
  t.match(line, new RegExp(`^node ${w.id} was removed from the cluster: its containers were stopped and removed, and this worker exits`));
});
