// Write rate limits, tried from outside against manager processes: a burst of writes past
// --rate-limit-token is answered 429 with Retry-After and a clear code; reads are not limited; the
// client waits Retry-After and its writes all land; the budget is the caller's own: a worker's
// heartbeats (per node) and another client (by address, on an --insecure cluster) go through while
// one caller is over its budget.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Agent, buildConnector, request } from 'undici';
import { readyCluster } from '../helpers/ready-cluster.js';
import { until } from '../helpers/docker-cluster.js';

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: { error?: { code: string; message: string } } | null;
}

async function call(url: string, method: 'GET' | 'PUT', headers: Record<string, string>, dispatcher: Agent, body?: unknown): Promise<Answer> {
  const res = await request(url, { method, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined, dispatcher });
  const text = await res.body.text();
  const ra = res.headers['retry-after'];
  return { status: res.statusCode, retryAfter: Array.isArray(ra) ? ra[0] : ra, body: text ? (JSON.parse(text) as Answer['body']) : null };
}

/** Sum of the API latency histogram's counts for one route and status, from /metrics. */
async function requests(metricsText: string, route: string, status: string): Promise<number> {
  let n = 0;
  for (const m of metricsText.matchAll(/^orch_api_request_duration_seconds_count\{([^}]*)\} (\d+)$/gm)) {
    if (m[1].includes(`route="${route}"`) && m[1].includes(`status="${status}"`)) n += Number(m[2]);
  }
  return n;
}

t.test('TLS: a token over its write budget gets 429 with Retry-After; reads and a worker\'s heartbeats are not limited; the client waits and retries', async (t) => {
  const { c, client } = await readyCluster(t, { managers: 1, secure: true, extraArgs: ['--rate-limit-token', '5', '--rate-limit-node', '8'] });
  const ca = readFileSync(join(c.managers[0].dataDir, 'tls', 'ca.pem'), 'utf8');
  const agent = new Agent({ connect: buildConnector({ ca, checkServerIdentity: () => undefined }), connections: 64 });
  t.teardown(() => agent.close());
  const base = `https://${c.addresses[0]}`;
  const admin = { authorization: `Bearer ${c.tokens().admin}` };
  // A worker beating 4 times a second: under its node's budget of 8, whatever the token does.
  c.startWorker('w1', '', 250, ['--runtime', 'sim']);
  await until(async () => (await client.nodes()).some((n) => n.name === 'w1' && n.status === 'ready'), 20_000);

  const burst = await Promise.all(Array.from({ length: 30 }, (_, k) => call(`${base}/v1/kv/burst-${k}`, 'PUT', admin, agent, { value: 'x' })));
  const ok = burst.filter((a) => a.status === 200).length;
  const refused = burst.filter((a) => a.status === 429);
  t.ok(ok >= 1 && ok <= 10, `${ok} of 30 writes at once went through (5 a second, at most two windows)`);
  t.equal(ok + refused.length, 30, 'the others were refused with 429');
  t.ok(refused.length > 0 && refused.every((a) => a.retryAfter !== undefined && Number(a.retryAfter) >= 1), `each with Retry-After in seconds (${refused[0]?.retryAfter})`);
  t.match(refused[0]?.body, { error: { code: 'rate-limited', message: /token:admin made more than 5 writes in a second/ } }, 'and an error naming the caller and the limit');

  const reads = await Promise.all(Array.from({ length: 30 }, () => call(`${base}/v1/kv/ready`, 'GET', admin, agent)));
  t.same([...new Set(reads.map((a) => a.status))], [200], 'reads by the same token at the same time are not limited');

  // The token kept over its budget for 3 s: the worker's heartbeats go on being answered.
  const before = await (await request(`${base}/metrics`, { headers: admin, dispatcher: agent })).body.text();
  const end = Date.now() + 3_000;
  let hammered = 0;
  while (Date.now() < end) {
    await Promise.all(Array.from({ length: 10 }, (_, k) => call(`${base}/v1/kv/hammer-${k}`, 'PUT', admin, agent, { value: 'x' })));
    hammered += 10;
  }
  const after = await (await request(`${base}/metrics`, { headers: admin, dispatcher: agent })).body.text();
  const beats = (await requests(after, '/v1/nodes/:id/heartbeat', '200')) - (await requests(before, '/v1/nodes/:id/heartbeat', '200'));
  t.ok(beats >= 8, `${beats} heartbeats of the worker answered 200 while the admin token made ${hammered} writes`);
  t.equal(await requests(after, '/v1/nodes/:id/heartbeat', '429'), 0, 'none of its heartbeats was refused');
  t.ok((await requests(after, '/v1/kv/*', '429')) > 0, 'while the token\'s writes were');

  // The client waits as told and retries with the same idempotency key: every write lands.
  const started = Date.now();
  const written = await Promise.all(Array.from({ length: 12 }, (_, k) => client.kvPut(`patient-${k}`, String(k))));
  t.equal(written.length, 12, `12 writes through the client at once all succeeded, in ${Date.now() - started} ms`);
  t.ok(Date.now() - started >= 1_000, 'which took waiting: 12 is over 5 a second');
  const back = await Promise.all(written.map((w) => client.kvGet(w.key)));
  t.same(back.map((b) => b.value), written.map((_, k) => String(k)), 'each written once, with its value');
});

t.test('--insecure: the budget is per client address; another client writes while one is refused', async (t) => {
  const { c } = await readyCluster(t, { managers: 1, extraArgs: ['--rate-limit-token', '5'] });
  const [host, port] = c.addresses[0].split(':');
  const burst = await Promise.all(Array.from({ length: 30 }, (_, k) => putFrom('127.0.0.1', host, Number(port), `b-${k}`)));
  t.ok(burst.filter((a) => a.status === 429).length >= 20, 'a burst from 127.0.0.1 is mostly refused');
  const theirs = await Promise.all(Array.from({ length: 4 }, (_, k) => putFrom('127.0.0.2', host, Number(port), `o-${k}`)));
  t.same(theirs.map((a) => a.status), [200, 200, 200, 200], 'writes from 127.0.0.2 in the same second go through');
  const again = await putFrom('127.0.0.1', host, Number(port), 'b-again');
  t.match(again.body, { error: { code: 'rate-limited', message: /anonymous:127\.0\.0\.1 / } }, 'while 127.0.0.1 is still refused, by name');
});

/** PUT /v1/kv/KEY from a chosen loopback address (undici's connector does not take one). */
function putFrom(localAddress: string, host: string, port: number, key: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, localAddress, method: 'PUT', path: `/v1/kv/${key}`, headers: { 'content-type': 'application/json' }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body: text ? (JSON.parse(text) as Answer['body']) : null }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`PUT /v1/kv/${key} from ${localAddress}: no answer in 10 s`)));
    req.end(JSON.stringify({ value: 'x' }));
  });
}

t.test('--insecure: a write a follower forwards is counted once, where the client sent it', async (t) => {
  const { c } = await readyCluster(t, { managers: 3, extraArgs: ['--rate-limit-token', '5'] });
  const { index: leader } = await c.waitForLeader(20_000);
  const follower = c.addresses[(leader + 1) % 3];
  const [lh, lp] = c.addresses[leader].split(':');
  const [fh, fp] = follower.split(':');
  // 4 to the leader and 4 through a follower, in the same second: 8 would be over 5 at the leader.
  const answers = await Promise.all([
    ...Array.from({ length: 4 }, (_, k) => putFrom('127.0.0.1', lh, Number(lp), `direct-${k}`)),
    ...Array.from({ length: 4 }, (_, k) => putFrom('127.0.0.1', fh, Number(fp), `forwarded-${k}`)),
  ]);
  t.same(answers.map((a) => a.status), Array(8).fill(200), 'all 8 went through');
});
