// OrchClient and the leader hint (x-orch-leader), against fake managers: it follows a hint to a
// manager it knows, on a success as on a 503, and never to an address outside its managers (whoever
// can add a header must not get the client's token sent where it likes).
import t from 'tap';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OrchClient } from '../../src/client/client.js';

interface Fake {
  address: string;
  seen: string[];
  /** How the next request is answered: status and leader hint. */
  answer: { status: number; hint?: string };
  server: Server;
}

async function fake(): Promise<Fake> {
  const f = { seen: [] as string[], answer: { status: 200 } } as Fake;
  f.server = createServer((req: IncomingMessage, res: ServerResponse) => {
    f.seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    req.resume();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (f.answer.hint) headers['x-orch-leader'] = f.answer.hint;
    res.writeHead(f.answer.status, headers);
    res.end(f.answer.status === 200 ? JSON.stringify({ key: 'k', value: 'v', version: 1 }) : JSON.stringify({ error: { code: 'leader-changed', message: 'retry', details: null } }));
  });
  await new Promise<void>((resolve) => f.server.listen(0, '127.0.0.1', resolve));
  f.address = `127.0.0.1:${(f.server.address() as AddressInfo).port}`;
  return f;
}

async function fakes(t: { teardown(f: () => unknown): void }, n: number): Promise<Fake[]> {
  const out: Fake[] = [];
  for (let k = 0; k < n; k++) out.push(await fake());
  t.teardown(() => Promise.all(out.map((f) => new Promise((r) => f.server.close(r)))));
  return out;
}

t.test('a hint naming a manager the client knows: the next request goes there', async (t) => {
  const [a, b] = await fakes(t, 2);
  const c = new OrchClient([a.address, b.address], { token: 'secret' });
  t.teardown(() => c.close());
  a.answer = { status: 200, hint: b.address };
  await c.kvPut('k', 'v');
  await c.kvPut('k', 'v');
  await c.kvGet('k');
  t.equal(a.seen.length, 1, 'the first request went to the first manager');
  t.equal(b.seen.length, 2, 'the next ones to the leader it named');
});

t.test('a hint naming an address outside the managers is ignored', async (t) => {
  const [a, b, outsider] = await fakes(t, 3);
  const c = new OrchClient([a.address, b.address], { token: 'secret' });
  t.teardown(() => c.close());
  for (const hint of [outsider.address, `${b.address}/x`, `user@${b.address}`, `${b.address},${outsider.address}`, 'x'.repeat(300)]) {
    a.answer = { status: 200, hint };
    await c.kvPut('k', 'v');
  }
  a.answer = { status: 503, hint: outsider.address };
  b.answer = { status: 200 };
  await c.kvPut('k', 'v');
  t.equal(outsider.seen.length, 0, 'the outsider never got a request (nor the token)');
  t.equal(a.seen.length, 6, 'the client stayed with the manager it was using');
  t.equal(b.seen.length, 1, 'and on a 503 it tried its next manager, as without a hint');
});

t.test('a 503 with a hint: the retry goes to the leader named, not the next in the list', async (t) => {
  const [a, b, c3] = await fakes(t, 3);
  const c = new OrchClient([a.address, b.address, c3.address]);
  t.teardown(() => c.close());
  a.answer = { status: 503, hint: c3.address };
  b.answer = { status: 503 };
  await c.kvPut('k', 'v', { idempotencyKey: 'once' });
  t.equal(a.seen.length, 1, 'the first manager answered 503');
  t.equal(b.seen.length, 0, 'the manager after it in the list was skipped');
  t.equal(c3.seen.length, 1, 'the leader it named answered');
  await c.kvPut('k', 'v');
  t.equal(c3.seen.length, 2, 'and is asked first from then on');
});

t.test('setManagers: a manager the cluster gave is followed', async (t) => {
  const [a, b] = await fakes(t, 2);
  const c = new OrchClient([a.address]);
  t.teardown(() => c.close());
  a.answer = { status: 200, hint: b.address };
  await c.kvPut('k', 'v');
  await c.kvPut('k', 'v');
  t.equal(b.seen.length, 0, 'given only the follower: the hint is not followed');
  c.setManagers([a.address, b.address]);
  await c.kvPut('k', 'v');
  await c.kvPut('k', 'v');
  t.equal(b.seen.length, 1, 'once the cluster gave the list: followed');
});

t.test('managersProvenByTls without a TLS connector proves nothing: an outside hint is still ignored', async (t) => {
  const [a, outside] = await fakes(t, 2);
  const client = new OrchClient([a.address], { token: 'secret', managersProvenByTls: true, deadlineMs: 2_000 });
  t.teardown(() => client.close());
  a.answer = { status: 200, hint: outside.address };
  await client.kvPut('k', 'v');
  await client.kvPut('k', 'v');
  t.equal(a.seen.length, 2, 'both writes went to the manager it was given');
  t.same(outside.seen, [], 'none to the address the hint named');
  t.same(client.managers, [a.address], 'and it did not learn it');
});
