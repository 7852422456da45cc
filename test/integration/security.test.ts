// A TLS cluster as a user runs one: the first manager makes the CA and the tokens, the others and
// the workers join with tokens, every connection is mutual TLS, and the API takes bearer tokens.
// Certificates live 8 s here, so that renewal must work for the cluster to keep running.
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { tlsCall, type CallOptions, type CallResult } from '../helpers/tls-call.js';
import { ORCH_BIN, ProcessCluster } from '../helpers/cluster.js';
import { until } from '../helpers/docker-cluster.js';
import { createCa, createRequest, fingerprint, issue } from '../../src/security/pki.js';
import { formatToken } from '../../src/security/tokens.js';

const TTL_MS = 8_000;

function orch(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ORCH_BIN, ...args], { env: { ...process.env, ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

t.test('a TLS cluster: tokens, mutual TLS, API tokens, renewal, rotation, revocation', async (t) => {
  const c = await ProcessCluster.start({ secure: true, managers: 3, extraArgs: ['--cert-ttl-ms', String(TTL_MS)] });
  const client = c.client({ deadlineMs: 20_000 });
  t.teardown(async () => {
    await client.close();
    await c.stop();
  });
  await c.waitForLeader(30_000);
  const tokens = c.tokens();
  const ca = readFileSync(join(c.managers[0].dataDir, 'tls', 'ca.pem'), 'utf8');
  const addr = c.addresses[0];

  const call = async (path: string, o: CallOptions & { to?: string } = {}) => {
    const r = await tlsCall(ca, o.to ?? addr, path, o);
    return { status: r.status, json: (r.json ?? {}) as NonNullable<CallResult['json']> };
  };

  await t.test('the new cluster printed its tokens once, and wrote them 0600', async (t) => {
    t.equal(statSync(c.tokensFile).mode & 0o777, 0o600, 'tokens file mode 0600');
    const log = readFileSync(c.managers[0].logFile, 'utf8');
    t.match(log, /These API tokens are shown only this once/);
    t.ok(log.includes(tokens.admin), 'the admin token is in the first manager\'s output');
    t.notOk(readFileSync(c.managers[1].logFile, 'utf8').includes(tokens.admin), 'a joining manager does not print it');
    t.equal(fingerprint(ca), tokens.caDigest, 'the tokens carry the CA digest');
    t.equal(statSync(join(c.managers[0].dataDir, 'tls', 'node-key.pem')).mode & 0o777, 0o600, 'node key 0600');
    t.equal(statSync(join(c.managers[1].dataDir, 'tls', 'secrets.json')).mode & 0o777, 0o600, 'a joined manager holds the secrets, 0600');
  });

  await t.test('the API: 401 without a token or with a wrong one; read-only reads but cannot write', async (t) => {
    const none = await call('/v1/services');
    t.equal(none.status, 401, 'no token: 401');
    t.match(none.json.error?.message, /needs a token/);
    const wrong = await call('/v1/services', { token: formatToken(tokens.caDigest, '0'.repeat(32)) });
    t.equal(wrong.status, 401, 'a made-up token: 401');
    const other = await call('/v1/services', { token: formatToken('f'.repeat(64), '0'.repeat(32)) });
    t.match(other.json.error?.message, /another cluster/, 'another cluster\'s token is named as such');
    t.equal((await call('/v1/services', { token: tokens.readonly })).status, 200, 'read-only token reads');
    const write = await call('/v1/kv/x', { method: 'PUT', token: tokens.readonly, body: { value: '1' } });
    t.equal(write.status, 403, 'read-only token cannot write');
    t.equal(write.json.error?.code, 'read-only-token');
    t.equal((await call('/v1/tokens/worker', { token: tokens.readonly })).status, 403, 'nor read a join token');
    t.equal((await call('/v1/kv/x', { method: 'PUT', token: tokens.admin, body: { value: '1' } })).status, 200, 'the admin token writes');
    await t.rejects(request(`http://${addr}/v1/services`, { headersTimeout: 2_000 }).then((r) => r.body.text()), 'plain HTTP gets no answer from a TLS manager');
  });

  await t.test('Raft routes take only this cluster\'s managers', async (t) => {
    const noCert = await call('/raft/messages', { method: 'POST', raw: Buffer.alloc(8) });
    t.equal(noCert.status, 403, 'no client certificate: refused');
    t.match(noCert.json.error?.message, /no client certificate/);
    // Another cluster's CA issues a certificate naming one of our managers: the chain decides.
    const otherCa = await createCa('0123456789abcdef');
    const impostor = await issue(otherCa, { cn: c.addresses[1], role: 'manager', clusterId: tokens.clusterId }, 60_000);
    const foreign = await call('/raft/messages', { method: 'POST', raw: Buffer.alloc(8), cert: impostor });
    t.equal(foreign.status, 403, 'a certificate of another cluster\'s CA: refused');
    t.match(foreign.json.error?.message, /not issued by this cluster's CA/);
    t.equal((await call('/v1/services', { cert: impostor })).status, 401, 'and it is no API credential either');
  });

  await t.test('a worker without a token, with a wrong token, or another cluster\'s token is refused', async (t) => {
    const dir = () => mkdtempSync(join(tmpdir(), 'orch-w-'));
    const common = (d: string) => ['worker', '--join', c.addresses.join(','), '--name', 'intruder', '--data-dir', d, '--runtime', 'sim'];
    const none = await orch(common(dir()), { ORCH_JOIN_TOKEN: '' });
    t.not(none.code, 0, 'no token: the worker exits');
    t.match(none.stderr, /no certificate yet: join with --token/);
    const wrong = await orch([...common(dir()), '--token', formatToken(tokens.caDigest, 'a'.repeat(32))]);
    t.not(wrong.code, 0, 'a wrong secret: exits');
    t.match(wrong.stderr, /refused to let this node join: .*not this cluster's worker join token.*\(bad-token\)/);
    const manager = await orch([...common(dir()), '--token', tokens.manager]);
    t.match(manager.stderr, /not this cluster's worker join token/, 'the manager token does not join a worker');
    const otherCa = await createCa('fedcba9876543210');
    const foreign = await orch([...common(dir()), '--token', formatToken(fingerprint(otherCa.certPem), 'a'.repeat(32))]);
    t.not(foreign.code, 0, 'another cluster\'s token: exits');
    t.match(foreign.stderr, /presents CA .*, not the CA .* that the token names/);
    t.equal((await client.nodes()).length, 0, 'no node joined');
  });

  let nodeId = '';
  const workerTls = () => ({ certPem: readFileSync(join(c.workers[0].dataDir, 'tls', 'node.pem'), 'utf8'), keyPem: readFileSync(join(c.workers[0].dataDir, 'tls', 'node-key.pem'), 'utf8') });

  await t.test('a worker joins with the token, runs tasks, and its certificate is renewed before it expires', async (t) => {
    c.startWorker('good', '', 500, ['--runtime', 'sim']);
    const node = await until(async () => (await client.nodes()).find((n) => n.name === 'good' && n.status === 'ready'), 30_000);
    nodeId = node.id;
    await client.createService({ name: 'web', image: 'anything:latest', replicas: 2 });
    await until(async () => (await client.tasks({ service: 'web' })).filter((x) => x.state === 'running').length === 2, 20_000);
    const first = workerTls().certPem;
    const managerFirst = readFileSync(join(c.managers[1].dataDir, 'tls', 'node.pem'), 'utf8');
    await until(async () => workerTls().certPem !== first, TTL_MS * 2);
    await until(async () => readFileSync(join(c.managers[1].dataDir, 'tls', 'node.pem'), 'utf8') !== managerFirst, TTL_MS * 2);
    // Past the first certificate's expiry, with new connections: the renewed ones carry on.
    await new Promise((r) => setTimeout(r, TTL_MS));
    const again = await until(async () => (await client.nodes()).find((n) => n.id === nodeId && n.status === 'ready'), 10_000);
    t.ok(again, 'the node is ready past its first certificate\'s expiry');
    t.equal((await client.tasks({ service: 'web' })).filter((x) => x.state === 'running').length, 2, 'its tasks still run');
    const expired = await call(`/v1/nodes/${nodeId}/heartbeat`, { method: 'POST', body: {}, cert: { certPem: first, keyPem: workerTls().keyPem } }).catch((err: Error) => ({ status: 0, json: { error: { code: 'tls', message: err.message } } }));
    t.not(expired.status, 200, 'the first, expired certificate no longer works');
  });

  await t.test('a worker certificate acts only as its own node', async (t) => {
    const r = await call('/v1/nodes/0123456789ab/heartbeat', { method: 'POST', body: {}, cert: workerTls() });
    t.equal(r.status, 403);
    t.equal(r.json.error?.code, 'wrong-node');
    t.equal((await call(`/v1/nodes/${nodeId}/heartbeat`, { method: 'POST', body: {}, cert: workerTls() })).status, 200, 'as itself it may');
    t.equal((await call('/raft/messages', { method: 'POST', raw: Buffer.alloc(8), cert: workerTls() })).json.error?.code, 'not-a-manager', 'a worker cannot speak Raft');
  });

  await t.test('orch token worker --rotate: the old token no longer joins, the new one does', async (t) => {
    const shown = await orch(['token', 'worker', '--quiet', '--manager', c.addresses.join(',')], { ORCH_TOKEN: tokens.admin });
    t.equal(shown.stdout.trim(), tokens.worker, 'orch token worker prints the worker token');
    const ro = await orch(['token', 'worker', '--rotate', '--manager', c.addresses.join(',')], { ORCH_TOKEN: tokens.readonly });
    t.match(ro.stderr, /read-only token cannot/, 'a read-only token cannot rotate');
    const rotated = await orch(['token', 'worker', '--rotate', '--quiet', '--manager', c.addresses.join(',')], { ORCH_TOKEN: tokens.admin });
    const fresh = rotated.stdout.trim();
    t.match(fresh, /^ORCH-1-[0-9a-f]{64}-[0-9a-z]{32}$/, 'a new token');
    t.not(fresh, tokens.worker);
    const csr = (await createRequest('00000000beef')).csrPem;
    const old = await call('/v1/join', { method: 'POST', body: { token: tokens.worker, role: 'worker', csr, name: '00000000beef' } });
    t.equal(old.status, 401, 'the old token is refused');
    t.match(old.json.error?.message, /rotated/);
    // Every manager, not only the leader, knows the new secret from the replicated state.
    for (const to of c.addresses) {
      const ok = await until(async () => (await call('/v1/join', { method: 'POST', body: { token: fresh, role: 'worker', csr, name: '00000000beef' }, to })).status === 200, 5_000);
      t.ok(ok, `${to} signs with the new token`);
    }
  });

  await t.test('a removed node\'s certificate is refused', async (t) => {
    process.kill(c.workers[0].pid, 'SIGKILL');
    await c.workers[0].exited;
    const removed = await client.removeNode('good', true);
    t.equal(removed.id, nodeId);
    const r = await call(`/v1/nodes/${nodeId}/heartbeat`, { method: 'POST', body: {}, cert: workerTls() });
    t.equal(r.status, 403);
    t.equal(r.json.error?.code, 'revoked');
    t.notOk((await client.nodes()).some((n) => n.id === nodeId), 'gone from orch nodes');
  });

  await t.test('the managers elect a new leader over mutual TLS, and a follower forwards with the token', async (t) => {
    const before = await c.waitForLeader();
    await c.kill(before.index);
    const after = await c.waitForLeader(15_000);
    t.not(after.index, before.index, 'another manager leads');
    const follower = c.managers.findIndex((m, k) => m.running && k !== after.index);
    const put = await call('/v1/kv/after-failover', { method: 'PUT', token: tokens.admin, body: { value: 'yes' }, to: c.addresses[follower] });
    t.equal(put.status, 200, 'a write through a follower is forwarded to the leader');
    c.spawn(before.index);
    await until(async () => (await c.status(before.index))?.role === 'follower', 20_000);
    t.ok(existsSync(join(c.managers[before.index].dataDir, 'tls', 'node.pem')));
  });
});
