// The security pieces that need no network: the CA signs what it decides, not what a request
// asks; tokens parse strictly and say what is wrong; route access is what the table says.
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { createCa, createRequest, fingerprint, issue, issuedBy, signRequest, subjectOfPem, validity } from '../../src/security/pki.js';
import { formatToken, hashSecret, matchesHash, newSecret, parseToken, sameSecret } from '../../src/security/tokens.js';
import { routeAccess } from '../helpers/route-access.js';
import Fastify from 'fastify';
import { requireDeclaredAccess } from '../../src/manager/api/auth.js';
import { managerIdentity } from '../../src/security/tls.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLocalTls, saveLocalTls } from '../../src/security/local-store.js';
import { bootstrapManagerTls } from '../../src/manager/tls-bootstrap.js';
import { CERT_BACKDATE_MS } from '../../src/security/identity.js';
import type { ClusterSecrets } from '../../src/api/tokens.js';

t.test('the CA signs a request with the subject it chooses, for the lifetime it chooses', async (t) => {
  const ca = await createCa('c0ffee0000000001');
  const req = await createRequest('aaaaaaaaaaaa');
  const pem = await signRequest(ca, req.csrPem, { cn: 'bbbbbbbbbbbb', role: 'worker', clusterId: 'c0ffee0000000001' }, 60_000);
  t.same(subjectOfPem(pem), { cn: 'bbbbbbbbbbbb', role: 'worker', clusterId: 'c0ffee0000000001' }, 'the CA\'s subject, not the request\'s CN');
  t.ok(issuedBy(pem, ca.certPem), 'chains to the CA');
  const v = validity(pem);
  t.ok(v.notAfter - Date.now() <= 60_000 && v.notAfter - Date.now() > 50_000, 'expires when asked');
  t.equal(new X509Certificate(pem).ca, false, 'a node certificate cannot sign others');
  t.equal(new X509Certificate(ca.certPem).ca, true, 'the CA can');
  const other = await createCa('c0ffee0000000002');
  t.notOk(issuedBy(pem, other.certPem), 'another CA did not issue it');
  t.not(fingerprint(ca.certPem), fingerprint(other.certPem));
  const m = await issue(ca, { cn: '127.0.0.1:7001', role: 'manager', clusterId: 'c0ffee0000000001' }, 60_000);
  t.match(new X509Certificate(m.certPem).subjectAltName, /IP Address:127.0.0.1/, 'a manager certificate names its address');
});

t.test('bad certificate requests are refused with the reason', async (t) => {
  const ca = await createCa('c0ffee0000000001');
  const subject = { cn: 'aaaaaaaaaaaa', role: 'worker' as const, clusterId: 'c0ffee0000000001' };
  await t.rejects(signRequest(ca, 'not a csr', subject, 1000), /not a PEM PKCS#10 request/);
  const req = await createRequest('aaaaaaaaaaaa');
  const tamper = (i: number) => {
    const der = Buffer.from(req.csrPem.split('\n').filter((l) => l && !l.startsWith('-----')).join(''), 'base64');
    der[i] ^= i === 25 ? 0x01 : 0xff;
    return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----`;
  };
  // One letter of the signed subject changed ('a' -> '`'): a valid request whose signature fails.
  await t.rejects(signRequest(ca, tamper(25), subject, 1000), /signature does not verify/);
  await t.rejects(signRequest(ca, tamper(40), subject, 1000), /key or signature cannot be read/, 'a broken key algorithm');
  await t.rejects(signRequest(ca, tamper(10), subject, 1000), /not a PEM PKCS#10 request/, 'broken DER');
  await t.rejects(signRequest(ca, req.csrPem, { ...subject, cn: 'x,OU=manager' }, 1000), /not a valid certificate name/, 'no subject injection');
});

t.test('tokens: the form, the errors, constant-time comparisons', async (t) => {
  const digest = 'a'.repeat(64);
  const secret = newSecret();
  const token = formatToken(digest, secret);
  t.same(parseToken('--token', token), { caDigest: digest, secret });
  t.throws(() => parseToken('--token', 'SWMTKN-1-abc'), /--token: not an orch token \(it should start with ORCH-1-\)/);
  t.throws(() => parseToken('--token', token.slice(0, -3)), /cut short or has stray characters/);
  t.notOk(/[0-9a-z]{32}/.test(String((() => { try { parseToken('x', 'ORCH-1-' + secret); } catch (e) { return (e as Error).message; } })())), 'the error never echoes the secret');
  t.ok(sameSecret(secret, secret));
  t.notOk(sameSecret(secret, newSecret()));
  t.ok(matchesHash(secret, ['bad', hashSecret(secret)]));
  t.notOk(matchesHash(secret, [hashSecret(newSecret())]));
});

t.test('who may call what', async (t) => {
  const access = await routeAccess(t);
  t.same(await access('POST', '/raft/messages'), { access: 'manager', route: '/raft/messages' });
  t.same(await access('POST', '/v1/nodes/0123456789ab/heartbeat'), { access: 'worker', route: '/v1/nodes/:id/heartbeat' });
  t.same(await access('POST', '/v1/join'), { access: 'open', route: '/v1/join' });
  t.same(await access('GET', '/v1/tokens/manager'), { access: 'admin', route: '/v1/tokens/:role' }, 'a join token is a secret');
  t.same(await access('GET', '/v1/services'), { access: 'read', route: '/v1/services' });
  t.same(await access('PATCH', '/v1/services/web'), { access: 'admin', route: '/v1/services/:id' });
  t.same(await access('GET', '/no/such/route'), { access: 'read', route: null }, 'an unknown route needs a token too');
});

t.test('a client that pins the CA still wants a manager at the other end', async (t) => {
  const cert = (OU: string) => ({ subject: { CN: 'x', OU, O: 'c0ffee0000000001' } }) as never;
  t.equal(managerIdentity('m1', cert('manager')), undefined, 'a manager\'s certificate is accepted');
  t.match(managerIdentity('m1', cert('worker'))?.message, /certificate of worker x, not of a manager/, 'a worker\'s is not');
});

t.test('a certificate that expired while its node was stopped: a manager signs itself a new one, a worker is told to join again', async (t) => {
  const ca = await createCa('c0ffee0000000003');
  const clusterId = 'c0ffee0000000003';
  const secrets = { clusterId, ca, join: { worker: newSecret(), manager: newSecret() }, api: { admin: [], readonly: [] } } as unknown as ClusterSecrets;
  const managerDir = mkdtempSync(join(tmpdir(), 'orch-expired-m-'));
  const workerDir = mkdtempSync(join(tmpdir(), 'orch-expired-w-'));
  t.teardown(() => [managerDir, workerDir].forEach((d) => rmSync(d, { recursive: true, force: true })));
  // Certificates are valid from a minute before they are issued: a lifetime below that is over at once.
  const old = await issue(ca, { cn: '127.0.0.1:7001', role: 'manager', clusterId }, -CERT_BACKDATE_MS / 2);
  saveLocalTls(managerDir, { material: { caPem: ca.certPem, certPem: old.certPem, keyPem: old.keyPem, clusterId }, secrets });
  t.equal(loadLocalTls(managerDir).expired, true, 'the manager\'s certificate is seen expired');
  const lines: string[] = [];
  const m = await bootstrapManagerTls({ dataDir: managerDir, self: '127.0.0.1:7001', peers: ['127.0.0.1:7001'], certTtlMs: 60_000, hasRaftData: true, log: (l) => lines.push(l) });
  t.ok(issuedBy(m.tls.material.certPem, ca.certPem), 'it starts with a new, valid certificate');
  t.not(m.tls.material.certPem, old.certPem);
  t.match(lines.join('\n'), /expired while it was stopped; renewed with the cluster CA/, 'and says so');
  t.notOk(loadLocalTls(managerDir).expired, 'the new one is saved');
  const w = await issue(ca, { cn: 'aaaaaaaaaaaa', role: 'worker', clusterId }, -CERT_BACKDATE_MS / 2);
  saveLocalTls(workerDir, { material: { caPem: ca.certPem, certPem: w.certPem, keyPem: w.keyPem, clusterId }, secrets: null });
  t.throws(() => loadLocalTls(workerDir), /node\.pem has expired .*join again with a token/, 'a worker holds no CA key: it joins again');
  const other = await createCa('c0ffee0000000004');
  const foreign = await issue(other, { cn: 'aaaaaaaaaaaa', role: 'worker', clusterId }, 60_000);
  saveLocalTls(workerDir, { material: { caPem: ca.certPem, certPem: foreign.certPem, keyPem: foreign.keyPem, clusterId }, secrets: null });
  t.throws(() => loadLocalTls(workerDir), /node\.pem was not issued by ca\.pem/, 'another CA\'s certificate is named as such');
});

t.test('a route that declares no access is refused when registered', async (t) => {
  const app = Fastify();
  requireDeclaredAccess(app);
  app.get('/declared', { config: { access: 'read' } }, async () => ({}));
  t.throws(() => app.get('/undeclared', async () => ({})), /route GET \/undeclared declares no access/);
  await app.close();
});
