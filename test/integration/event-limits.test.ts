// Event streams are bounded, tried from outside with real sockets against a manager process: past
// --max-event-subscribers the next stream is refused (503, too-many-subscribers); a follower that
// stops reading is dropped once it falls behind what the manager keeps (its connection ends),
// while one that reads gets every event; the dropped one's slot is free again.
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { request } from 'undici';
import { readyCluster } from '../helpers/ready-cluster.js';
import { until } from '../helpers/docker-cluster.js';

interface RawStream {
  sock: Socket;
  status: number;
  /** Frames (blocks between blank lines) read so far, after the headers. */
  frames: string[];
  /** The first 64 KiB of the body. */
  start: string;
  ended: boolean;
}

/** GET `path` on a raw socket; resolves once the status line and headers have arrived. */
function openStream(addr: string, path: string): Promise<RawStream> {
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    const sock = connect(Number(port), host);
    const s: RawStream = { sock, status: 0, frames: [], start: '', ended: false };
    // The body is chunked (Transfer-Encoding): `raw` holds bytes not yet taken out of their chunks.
    let raw = Buffer.alloc(0);
    let chunked = false;
    let text = '';
    let headed = false;
    const timer = setTimeout(() => reject(new Error(`no answer to GET ${path} within 10 s`)), 10_000);
    const take = (body: string) => {
      if (s.start.length < 65_536) s.start += body;
      text += body;
      const parts = text.split('\n\n');
      text = parts.pop()!;
      s.frames.push(...parts);
    };
    sock.on('data', (d: Buffer) => {
      raw = Buffer.concat([raw, d]);
      if (!headed) {
        const end = raw.indexOf('\r\n\r\n');
        if (end < 0) return;
        headed = true;
        const head = raw.subarray(0, end).toString('latin1');
        s.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
        chunked = /^transfer-encoding: chunked/im.test(head);
        raw = raw.subarray(end + 4);
        clearTimeout(timer);
        resolve(s);
      }
      if (!chunked) {
        take(raw.toString('utf8'));
        raw = Buffer.alloc(0);
        return;
      }
      for (;;) {
        const eol = raw.indexOf('\r\n');
        if (eol < 0) return;
        const size = parseInt(raw.subarray(0, eol).toString('latin1'), 16);
        if (raw.length < eol + 2 + size + 2) return;
        take(raw.subarray(eol + 2, eol + 2 + size).toString('utf8'));
        raw = raw.subarray(eol + 2 + size + 2);
      }
    });
    sock.on('end', () => (s.ended = true));
    sock.on('close', () => (s.ended = true));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.write(`GET ${path} HTTP/1.1\r\nHost: ${addr}\r\nAccept: text/event-stream\r\n\r\n`);
  });
}

async function metric(addr: string, name: string): Promise<number> {
  const res = await request(`http://${addr}/metrics`);
  const text = await res.body.text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in /metrics`);
  return Number(m[1]);
}

const lastId = (frames: string[]) => [...frames].reverse().map((f) => /^id: (\S+)$/m.exec(f)?.[1]).find(Boolean);

t.test('event streams: capped per manager, a follower that stops reading is dropped, one that reads is not', async (t) => {
  const { c, client } = await readyCluster(t, { managers: 1, extraArgs: ['--max-event-subscribers', '2', '--event-buffer', '64KiB'] });
  const streams: RawStream[] = [];
  t.teardown(() => streams.forEach((s) => s.sock.destroy()));
  const addr = c.addresses[0];

  const slow = await openStream(addr, '/v1/events?follow=true');
  streams.push(slow);
  slow.sock.pause();
  const reader = await openStream(addr, '/v1/events?follow=true');
  streams.push(reader);
  t.equal(slow.status, 200, 'the first follower is served');
  t.equal(reader.status, 200, 'the second follower is served');
  const third = await openStream(addr, '/v1/events?follow=true');
  streams.push(third);
  t.equal(third.status, 503, 'a third, past --max-event-subscribers 2, is refused with 503');
  await until(async () => third.start.endsWith('}'), 5_000);
  t.match(JSON.parse(third.start), { error: { code: 'too-many-subscribers', message: /--max-event-subscribers/ } }, 'naming why');
  t.equal(await metric(addr, 'orch_event_streams'), 2, '/metrics shows the two open streams');

  // Tens of thousands of events (pending tasks: no worker runs them), far more than the event log
  // keeps (10,000) and than the socket buffers hold, until the manager gives up on the slow one.
  // Each batch waits for the reading follower to have read it: it is not too slow, by design.
  let services = 0;
  for (; services < 60 && (await metric(addr, 'orch_event_streams_dropped_total')) === 0; services++) {
    await client.createService({ name: `flood-${services}`, image: 'orch/busybox:latest', replicas: 2000 });
    await until(async () => (await client.tasks({ service: `flood-${services}` })).length === 2000, 20_000);
    await until(async () => {
      const rest = await request(`http://${addr}/v1/events?since=${lastId(reader.frames)}`).then((r) => r.body.text());
      return rest.length === 0;
    }, 20_000);
  }
  await until(async () => (await metric(addr, 'orch_event_streams_dropped_total')) >= 1, 20_000);
  t.pass(`the follower that stopped reading was dropped after ${services} services of 2,000 tasks`);
  await until(async () => (await metric(addr, 'orch_event_streams')) === 1, 10_000);
  t.pass('the manager serves one stream now: the dropped one is gone');

  // What the slow one was sent before: a prefix of the stream, then the end of it.
  slow.sock.resume();
  await until(async () => slow.ended, 20_000);
  const got = slow.frames.filter((f) => f.startsWith('id: ')).length;
  t.ok(got > 0 && got < services * 2000, `the dropped follower read ${got} of the ${services * 2000}+ events, then its stream ended`);

  // The reading follower is not dropped and catches up with the last event.
  const tail = await request(`http://${addr}/v1/events`).then((r) => r.body.text());
  const newest = lastId(tail.split('\n\n'));
  await until(async () => lastId(reader.frames) === newest, 20_000);
  t.notOk(reader.ended, 'the follower that reads is still connected');
  t.equal(lastId(reader.frames), newest, `it read up to the newest event (${newest})`);
  const ids = reader.frames.map((f) => /^id: (\d+)-(\d+)$/m.exec(f)).filter((m) => m !== null).map((m) => [Number(m[1]), Number(m[2])]);
  t.ok(ids.every((x, k) => k === 0 || x[0] > ids[k - 1][0] || (x[0] === ids[k - 1][0] && x[1] === ids[k - 1][1] + 1)), 'in order, with no event missing within an entry');
  t.ok(ids.length >= services * 2000, `every event: ${ids.length}`);

  // The slot the dropped one held is free again.
  const again = await openStream(addr, '/v1/events?follow=true');
  streams.push(again);
  t.equal(again.status, 200, 'a new follower is served in its place');
});
