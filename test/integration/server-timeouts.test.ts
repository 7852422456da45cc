// Server timeouts, tried from outside with raw sockets against manager processes: a client that
// sends half a request (headers without their end, or a body shorter than its Content-Length) is
// cut off after --request-timeout, over plain HTTP and over TLS; a long-poll and an event follower
// that last longer than that timeout still get their answer.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { request } from 'undici';
import { ProcessCluster } from '../helpers/cluster.js';
import { readyCluster } from '../helpers/ready-cluster.js';

/** Sends `head` and waits: how long until the server closed the connection (null: still open after `ms`), and what it answered. */
function halfRequest(sock: Socket, head: string, ms: number): Promise<{ closedAfterMs: number | null; answer: string }> {
  return new Promise((resolve) => {
    const start = Date.now();
    let answer = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ closedAfterMs: null, answer });
    }, ms);
    sock.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ closedAfterMs: Date.now() - start, answer });
    });
    sock.write(head);
  });
}

const HALF_HEADERS = 'GET /v1/cluster HTTP/1.1\r\nHost: m\r\nX-Slow: ';
const HALF_BODY = 'PUT /v1/kv/slow HTTP/1.1\r\nHost: m\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"value":';

t.test('plain HTTP: half a request is cut off after --request-timeout; long-polls and followers outlive it', async (t) => {
  const { c, client } = await readyCluster(t, { managers: 1, extraArgs: ['--request-timeout', '1s'] });
  const [host, port] = c.addresses[0].split(':');

  for (const [what, head] of [['headers without their end', HALF_HEADERS], ['a body shorter than its Content-Length', HALF_BODY]] as const) {
    const sock = await new Promise<Socket>((resolve) => {
      const s = tcpConnect(Number(port), host, () => resolve(s));
    });
    const r = await halfRequest(sock, head, 8_000);
    t.ok(r.closedAfterMs !== null, `${what}: the connection was closed (after ${r.closedAfterMs} ms)`);
    t.ok(r.closedAfterMs !== null && r.closedAfterMs >= 900, 'not before the timeout');
    t.match(r.answer, /^HTTP\/1\.1 408 /, 'answered 408 Request Timeout');
  }

  // A blocking read that waits 2.5 s (past the 1 s request timeout) gets its answer.
  await client.createService({ name: 'poll', image: 'orch/busybox:latest', replicas: 0 });
  const first = await request(`http://${c.addresses[0]}/v1/services/poll`);
  const index = first.headers['x-orch-index'];
  await first.body.dump();
  const started = Date.now();
  const polled = await request(`http://${c.addresses[0]}/v1/services/poll?index=${index}&wait=2500`, { headersTimeout: 10_000 });
  await polled.body.dump();
  t.equal(polled.statusCode, 200, 'a long-poll longer than the request timeout is answered');
  t.ok(Date.now() - started >= 2_000, `after its wait (${Date.now() - started} ms)`);

  // A follower connected for 2.5 s still gets a new event.
  const follow = await request(`http://${c.addresses[0]}/v1/events?follow=true&since=${index}`, { bodyTimeout: 10_000 });
  let text = '';
  follow.body.setEncoding('utf8');
  follow.body.on('data', (d: string) => (text += d));
  await new Promise((r) => setTimeout(r, 2_500));
  await client.createService({ name: 'late', image: 'orch/busybox:latest', replicas: 0 });
  const deadline = Date.now() + 10_000;
  while (!text.includes('"name":"late"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.match(text, /"name":"late"/, 'a follower open longer than the request timeout still receives events');
  follow.body.destroy();
});

t.test('TLS: half a request is cut off after --request-timeout', async (t) => {
  const c = await ProcessCluster.start({ managers: 1, secure: true, extraArgs: ['--request-timeout', '1s'] });
  t.teardown(() => c.stop());
  await c.waitForLeader();
  const [host, port] = c.addresses[0].split(':');
  const ca = readFileSync(join(c.managers[0].dataDir, 'tls', 'ca.pem'), 'utf8');
  const sock = await new Promise<Socket>((resolve, reject) => {
    const s = tlsConnect({ host, port: Number(port), ca, checkServerIdentity: () => undefined }, () => resolve(s));
    s.once('error', reject);
  });
  const r = await halfRequest(sock, HALF_BODY.replace('Host: m', `Host: m\r\nAuthorization: Bearer ${c.tokens().admin}`), 8_000);
  t.ok(r.closedAfterMs !== null, `the TLS connection was closed (after ${r.closedAfterMs} ms)`);
  t.ok(r.closedAfterMs !== null && r.closedAfterMs >= 900, 'not before the timeout');
  t.match(r.answer, /^HTTP\/1\.1 408 /, 'answered 408 Request Timeout');
});
