// The attacks of the security review, tried as an outsider would, against real manager processes
// over real mutual TLS. Each one worked before the fix that this file guards:
// - a node registers an address that turns the manager's log relay into a fetch of a manager route
//   (the join tokens), answered to a read-only caller;
// - a worker's certificate serves at a manager's address and receives the Raft traffic;
// - a manager certificate forges another manager's Raft sender id, or reads the API without a token;
// - a removed manager's certificate keeps working.
import t from 'tap';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessCluster } from '../helpers/cluster.js';
import { until } from '../helpers/docker-cluster.js';
import { tlsCall, type CallOptions } from '../helpers/tls-call.js';
import { createRequest } from '../../src/security/pki.js';
import { encodeMessages } from '../../src/raft/core/codec.js';

t.test('attacks on a TLS cluster', async (t) => {
  const c = await ProcessCluster.start({ secure: true, managers: 3 });
  t.teardown(() => c.stop());
  await c.waitForLeader(30_000);
  const tokens = c.tokens();
  const ca = readFileSync(join(c.managers[0].dataDir, 'tls', 'ca.pem'), 'utf8');
  const call = (k: number, path: string, o: CallOptions = {}) => tlsCall(ca, c.addresses[k], path, o);
  const managerCert = (k: number) => ({ certPem: readFileSync(join(c.managers[k].dataDir, 'tls', 'node.pem'), 'utf8'), keyPem: readFileSync(join(c.managers[k].dataDir, 'tls', 'node-key.pem'), 'utf8') });
  const leaderIndex = async () => (await c.waitForLeader(15_000)).index;

  // A worker certificate, got as any worker gets one: the worker join token and a key made here.
  const nodeId = 'a77ac4e2b0c1';
  const req = await createRequest(nodeId);
  const joined = await call(0, '/v1/join', { method: 'POST', body: { token: tokens.worker, role: 'worker', csr: req.csrPem, name: nodeId } });
  t.equal(joined.status, 200, 'the attacker holds a worker certificate');
  const workerCert = { certPem: joined.json!.certPem as string, keyPem: req.keyPem };
  const capacity = { cpu: 1, memory: 2 ** 30, disk: 2 ** 30 };

  await t.test('the log relay cannot be pointed at a manager route', async (t) => {
    const l = await leaderIndex();
    const register = (address: string) => call(l, '/v1/nodes/register', { method: 'POST', cert: workerCert, body: { id: nodeId, name: 'evil', address, labels: {}, capacity } });
    const svc = await call(l, '/v1/services', { method: 'POST', token: tokens.admin, body: { name: 'bait', image: 'orch/busybox:latest', replicas: 1 } });
    t.ok(svc.status === 200 || svc.status === 201, 'an admin runs a service');
    /** The attacker's task, reported running in a container of its choosing; then a read-only user reads its logs. */
    const relayRead = async () => {
      const task = await until(async () => {
        const a = await call(l, `/v1/nodes/${nodeId}/assignments?since=-1&wait=0`, { cert: workerCert });
        return (a.json?.tasks as { id: string }[] | undefined)?.[0];
      }, 15_000);
      const rep = await call(l, `/v1/nodes/${nodeId}/heartbeat`, { method: 'POST', cert: workerCert, body: { reports: [{ taskId: task.id, state: 'running', containerId: 'abcdef012345' }] } });
      t.equal(rep.status, 200, 'the attacker reports its task running');
      return { task, logs: await call(l, `/v1/tasks/${task.id}/logs`, { token: tokens.readonly }) };
    };
    const bad = await register(`${c.addresses[l]}/v1/tokens/manager#`);
    t.equal(bad.status, 400, 'an address with a path is refused at registration');
    t.equal(bad.json?.error?.code, 'bad-address');
    if (bad.status === 200) {
      // What the review found: the relay fetched https://MANAGER/v1/tokens/manager#/v1/containers/...
      const { logs } = await relayRead();
      t.notOk(logs.text.includes(tokens.manager.slice(-32)), `the manager join token must not reach a read-only caller (got ${logs.status}: ${logs.text.slice(0, 120)})`);
    }
    // A well-formed address that is a manager's: accepted, but the relay must not trust what answers there.
    t.equal((await register(c.addresses[l])).status, 200, 'a plain host:port registers');
    const { task, logs } = await relayRead();
    const weird = await call(l, `/v1/nodes/${nodeId}/heartbeat`, { method: 'POST', cert: workerCert, body: { reports: [{ taskId: task.id, state: 'running', containerId: '../../v1/tokens/manager#' }] } });
    t.equal(weird.status, 400, 'a container id that is not a Docker id is refused');
    t.not(logs.status, 200, `the relay refuses to read from a server that is not node ${nodeId} (${logs.status})`);
    t.notOk(logs.text.includes(tokens.manager.slice(-32)), 'the manager join token is not in the answer');
    t.notOk(logs.text.includes(tokens.worker.slice(-32)), 'nor the worker join token');
    t.match(logs.json?.error?.message ?? '', /the certificate of manager \S+, not of a worker/, 'the error says who answered instead');
    await call(l, '/v1/services/bait', { method: 'DELETE', token: tokens.admin });
  });

  await t.test('a manager certificate alone reads no secret, and speaks Raft only as itself', async (t) => {
    const l = await leaderIndex();
    const f = [0, 1, 2].find((k) => k !== l)!;
    const mine = managerCert(f);
    for (const path of ['/v1/tokens/manager', '/v1/tokens/worker', '/v1/services', '/v1/kv/x']) {
      const r = await call(l, path, { cert: mine });
      t.equal(r.status, 401, `${path} with a manager certificate and no token: 401`);
    }
    const rotate = await call(l, '/v1/tokens/manager/rotate', { method: 'POST', cert: mine });
    t.equal(rotate.status, 401, 'nor rotate a join token');
    const other = await call(l, '/v1/managers', { method: 'POST', cert: mine, body: { address: '127.0.0.1:9' } });
    t.equal(other.status, 403, 'nor ask to add a manager at another address');
    t.equal(other.json?.error?.code, 'wrong-manager');
    // The Raft sender is the certificate's manager: a forged x-orch-from is refused.
    const status = await c.status(l);
    const forged = String([1, 2, 3].find((id) => id !== status!.id && c.indexOfId(id) !== f));
    const frame = Buffer.from(encodeMessages([]));
    const raftCluster = createHash('sha256').update([...c.initialPeers].sort().join(',')).digest('hex').slice(0, 16);
    const r = await call(l, '/raft/messages', { method: 'POST', raw: frame, cert: mine, headers: { 'x-orch-cluster': raftCluster, 'x-orch-from': forged } });
    t.equal(r.status, 403, `manager ${f}'s certificate cannot send as manager ${forged}`);
    t.equal(r.json?.error?.code, 'wrong-sender');
    const w = await call(l, '/raft/messages', { method: 'POST', raw: frame, cert: workerCert, headers: { 'x-orch-cluster': raftCluster, 'x-orch-from': forged } });
    t.equal(w.status, 403, 'a worker certificate cannot speak Raft');
    const ok = await call(l, '/raft/status', { cert: mine });
    t.equal(ok.status, 200, 'a current manager reads a peer\'s status (orch cluster needs it)');
  });

  await t.test('a worker certificate serving at a manager\'s address receives no Raft traffic', async (t) => {
    const l = await leaderIndex();
    const victim = [0, 1, 2].find((k) => k !== l)!;
    await c.kill(victim);
    const [host, port] = c.addresses[victim].split(':');
    let connections = 0;
    let requests = 0;
    const impostor = createTlsServer({ key: workerCert.keyPem, cert: workerCert.certPem, ca, requestCert: true, rejectUnauthorized: false }, (s: TLSSocket) => {
      s.on('data', () => requests++);
      s.on('error', () => undefined);
    });
    impostor.on('connection', () => connections++);
    impostor.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve, reject) => impostor.once('error', reject).listen(Number(port), host, () => resolve()));
    t.teardown(() => new Promise<void>((r) => impostor.close(() => r())));
    await until(async () => connections >= 3, 15_000);
    t.equal(requests, 0, `the managers connected ${connections} times and sent nothing: they refused the worker's certificate`);
    const cluster = await call(l, '/v1/cluster', { token: tokens.readonly });
    t.equal(cluster.status, 200);
    const seen = (cluster.json?.managers as { address: string; reachable: boolean }[]).find((m) => m.address === c.addresses[victim]);
    t.equal(seen?.reachable, false, 'orch cluster lists the impostor\'s address as unreachable');
    t.equal(requests, 0, 'the status fan-out sent nothing to it either');
    await new Promise<void>((r) => impostor.close(() => r()));
    c.spawn(victim);
    await until(async () => (await c.status(victim))?.role === 'follower', 20_000);
  });

  await t.test('a removed manager\'s certificate is refused everywhere', async (t) => {
    const l = await leaderIndex();
    const gone = [0, 1, 2].find((k) => k !== l)!;
    const id = (await c.status(gone))!.id;
    const cert = managerCert(gone);
    const del = await call(l, `/v1/managers/${id}`, { method: 'DELETE', token: tokens.admin });
    t.equal(del.status, 200, `manager ${id} removed`);
    await c.managers[gone].exited;
    const frame = Buffer.from(encodeMessages([]));
    const tries: [string, CallOptions][] = [
      ['/raft/messages', { method: 'POST', raw: frame, headers: { 'x-orch-cluster': tokens.clusterId, 'x-orch-from': String(id) } }],
      ['/raft/status', {}],
      ['/v1/certs/renew', { method: 'POST', body: { csr: (await createRequest(c.addresses[gone])).csrPem } }],
      ['/v1/managers', { method: 'POST', body: { address: c.addresses[gone] } }],
      ['/v1/tokens/manager', {}],
    ];
    for (const k of [0, 1, 2].filter((x) => x !== gone)) {
      for (const [path, o] of tries) {
        const r = await call(k, path, { ...o, cert });
        t.equal(r.status, 403, `manager ${k}: ${o.method ?? 'GET'} ${path} refused`);
        t.equal(r.json?.error?.code, 'revoked', `manager ${k}: ${path}: the certificate is revoked`);
      }
    }
  });
});
