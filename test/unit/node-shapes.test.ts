// What a node says about itself, checked to the exact shape: addresses, container ids, and who a
// certificate names when a client expects a certain peer.
import t from 'tap';
import { isNodeAddress, parseAddress } from '../../src/api/address.js';
import { ClusterState } from '../../src/manager/state/cluster-state.js';
import { normalizeSpec } from '../../src/spec/index.js';
import { createServer } from 'node:https';
import { Agent, request } from 'undici';
import { checkPeer, TlsContext } from '../../src/security/tls.js';
import { createCa, issue } from '../../src/security/pki.js';

t.test('a node address is exactly host:port', async (t) => {
  for (const ok of ['127.0.0.1:7001', 'worker-1.example.internal:65535', '[::1]:80', 'w1:1', 'no-server.invalid:1']) t.ok(isNodeAddress(ok), `${ok} is an address`);
  for (const bad of ['127.0.0.1:7001/v1/tokens/manager#', 'M:1/x', 'a:0', 'a:65536', 'a', ':80', 'a:80 ', ' a:80', 'user@a:80', 'a:80?x=1', 'a:80#', 'a..b:80', '-a:80', 'a-:80', 'sim', '', 'a'.repeat(300) + ':1', 'http://a:80']) {
    t.notOk(isNodeAddress(bad), `${JSON.stringify(bad)} is not`);
  }
  t.notOk(isNodeAddress(42 as unknown), 'a number is not');
  t.throws(() => parseAddress('--listen', 'a:80/x'), /--listen: expected host:port/);
});

t.test('the state machine refuses a bad address and ignores a container id that is not a Docker id', async (t) => {
  const s = new ClusterState();
  const capacity = { cpu: 1, memory: 2 ** 30, disk: 2 ** 30 };
  const bad = s.apply({ op: 'node.register', ts: 1, node: { id: 'n1', name: 'n1', address: 'm:1/v1/tokens/manager#', labels: {}, capacity } });
  t.equal(bad.ok, false, 'a registration with a path in its address is refused when applied');
  t.notOk(s.nodes.has('n1'));
  t.equal(s.apply({ op: 'node.register', ts: 1, node: { id: 'n1', name: 'n1', address: '10.0.0.1:7100', labels: {}, capacity } }).ok, true);
  s.apply({ op: 'service.upsert', ts: 2, serviceId: 's1', spec: normalizeSpec({ name: 'web', image: 'busybox', replicas: 1 }) });
  s.apply({ op: 'task.create', ts: 3, tasks: [{ id: 't1', serviceId: 's1', slot: 1, version: 1 }] });
  s.apply({ op: 'task.assign', ts: 4, assignments: [{ taskId: 't1', nodeId: 'n1' }] });
  s.apply({ op: 'task.report', ts: 5, nodeId: 'n1', reports: [{ taskId: 't1', state: 'running', containerId: '../../x#' }] });
  t.equal(s.tasks.get('t1')?.containerId, null, 'a path as a container id is ignored');
  t.equal(s.tasks.get('t1')?.state, 'assigned', 'and so is the report that carried it');
  s.apply({ op: 'task.report', ts: 6, nodeId: 'n1', reports: [{ taskId: 't1', state: 'running', containerId: 'abcdef0123456789' }] });
  t.equal(s.tasks.get('t1')?.containerId, 'abcdef0123456789', 'a Docker id is taken');
});

t.test('a client accepts only the peer it expects', async (t) => {
  const manager = { cn: '10.0.0.1:7001', role: 'manager' as const, clusterId: 'c1' };
  const worker = { cn: 'aaaaaaaaaaaa', role: 'worker' as const, clusterId: 'c1' };
  t.equal(checkPeer('h', manager, 'c1', { role: 'manager', cn: '10.0.0.1:7001' }), undefined, 'the manager at its address');
  t.match(checkPeer('h', manager, 'c1', { role: 'manager', cn: '10.0.0.2:7001' })?.message, /not of manager 10\.0\.0\.2:7001/, 'another manager is not it');
  t.match(checkPeer('h', worker, 'c1', { role: 'manager' })?.message, /certificate of worker aaaaaaaaaaaa, not of a manager/, 'a worker is no manager');
  t.match(checkPeer('h', manager, 'c1', { role: 'worker', cn: 'aaaaaaaaaaaa' })?.message, /certificate of manager .*, not of a worker/, 'a manager is no worker');
  t.match(checkPeer('h', { ...worker, cn: 'bbbbbbbbbbbb' }, 'c1', { role: 'worker', cn: 'aaaaaaaaaaaa' })?.message, /not of worker aaaaaaaaaaaa/, 'nor one worker another');
  t.match(checkPeer('h', { ...manager, clusterId: 'c2' }, 'c1', { role: 'manager' })?.message, /cluster c2, not of cluster c1/, 'another cluster\'s node is refused');
  t.match(checkPeer('h', null, 'c1', { role: 'manager' })?.message, /no orch node/);
});

t.test('a worker checks the name of a manager at an address the cluster gave, the role elsewhere', async (t) => {
  const ca = await createCa('c1');
  const manager = await issue(ca, { cn: '10.9.9.9:7001', role: 'manager', clusterId: 'c1' }, 60_000);
  const worker = await issue(ca, { cn: 'aaaaaaaaaaaa', role: 'worker', clusterId: 'c1' }, 60_000);
  const server = createServer({ key: manager.keyPem, cert: manager.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false }, (_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const address = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const tls = new TlsContext({ caPem: ca.certPem, certPem: worker.certPem, keyPem: worker.keyPem, clusterId: 'c1' });
  const get = async (given: boolean) => {
    const agent = new Agent({ connect: tls.managerConnector(() => given) });
    try {
      const res = await request(`https://${address}/`, { dispatcher: agent });
      return await res.body.text();
    } catch (err) {
      return (err as Error).message;
    } finally {
      await agent.close();
    }
  };
  t.equal(await get(false), 'ok', 'a manager at an address a person gave: any manager of the cluster');
  t.match(await get(true), /certificate of manager 10\.9\.9\.9:7001, not of manager 127\.0\.0\.1:\d+/, 'at an address the cluster gave: the manager named there, no other');
});
