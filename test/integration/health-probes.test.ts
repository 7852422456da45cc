// The worker's health probes against real containers on the engine, through the Docker runtime:
// HTTP (2xx/3xx healthy, 404 not), TCP (open port or refused), exec (exit code, timeout), and the
// address a bridge-networked container is reached at.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { probe, type HealthCheck } from '../../src/worker/health.js';
import { DockerRuntime } from '../../src/worker/runtime/docker.js';
import { normalizeSpec } from '../../src/spec/index.js';
import { freePort } from '../helpers/cluster.js';
import { dockerEngine, TEST_IMAGE } from '../helpers/docker-engine.js';
import { until } from '../helpers/docker-cluster.js';

const node = `probe-${randomBytes(4).toString('hex')}`;
const check = (c: Partial<HealthCheck>): HealthCheck => ({ http: null, tcp: null, exec: null, intervalMs: 1000, timeoutMs: 1000, retries: 1, startPeriodMs: 0, ...c });

t.test('http, tcp and exec probes on a host-networked httpd', async (t) => {
  const { docker } = await dockerEngine();
  const rt = new DockerRuntime(docker, node, 1);
  const port = await freePort();
  const closed = await freePort();
  const spec = normalizeSpec({ name: 'probe', image: TEST_IMAGE, network: 'host', command: ['sh', '-c', `mkdir -p /www && echo ok > /www/ok.html && httpd -f -p 127.0.0.1:${port} -h /www`] });
  const id = await rt.start({ id: `task-${node}`, serviceName: 'probe', slot: 1, spec });
  t.teardown(() => rt.remove(id));
  const http = (path: string) => probe(rt, id, check({ http: { port, path } }));
  t.equal(await until(async () => ((await http('/ok.html')) === null ? 'healthy' : false), 10_000), 'healthy', 'GET /ok.html: 200 is healthy');
  t.equal(await http('/missing'), 'GET /missing answered 404', 'a 404 is not, and says so');
  t.equal(await probe(rt, id, check({ tcp: { port } })), null, 'tcp: the open port');
  t.match(await probe(rt, id, check({ tcp: { port: closed } })), /^TCP port \d+: connect ECONNREFUSED/, 'tcp: a closed port is refused');
  t.equal(await probe(rt, id, check({ exec: { command: ['test', '-f', '/www/ok.html'] } })), null, 'exec: exit 0 is healthy');
  t.match(await probe(rt, id, check({ exec: { command: ['sh', '-c', 'echo broken >&2; exit 4'] } })), /exited with 4: broken$/, 'exec: a non-zero exit with its last output line');
  const t0 = Date.now();
  t.match(await probe(rt, id, check({ exec: { command: ['sleep', '5'] }, timeoutMs: 300 })), /exited with -1: timed out after 300 ms/, 'exec: a probe that hangs times out');
  t.ok(Date.now() - t0 < 2000, `and the probe returns promptly (${Date.now() - t0} ms)`);
});

t.test('a bridge-networked container is probed at its own address', async (t) => {
  const { docker } = await dockerEngine();
  const bridges = await docker.listNetworks({ filters: { name: ['bridge'] } });
  if (!bridges.some((n) => n.Name === 'bridge')) {
    // scripts/docker-engine.sh starts dockerd with --bridge=none where a bridge cannot be made.
    t.pass('this engine has no bridge network: only published ports and host networking can be probed here');
    return;
  }
  const rt = new DockerRuntime(docker, node, 1);
  const spec = normalizeSpec({ name: 'probe', image: TEST_IMAGE, network: 'bridge', command: ['sh', '-c', 'mkdir -p /www && echo ok > /www/index.html && httpd -f -p 8080 -h /www'] });
  const id = await rt.start({ id: `task2-${node}`, serviceName: 'probe', slot: 1, spec });
  t.teardown(() => rt.remove(id));
  const ep = await rt.endpoint(id, 8080);
  t.match(ep, { host: /^\d+\.\d+\.\d+\.\d+$/, port: 8080 }, `the container's own address: ${ep?.host}`);
  t.equal(await until(async () => ((await probe(rt, id, check({ http: { port: 8080, path: '/' } }))) === null ? 'healthy' : false), 10_000), 'healthy', 'GET / on it answers 200');
});
