// The key/value API through fastify.inject on a one-manager cluster: every route, bad input named,
// idempotent retries, CAS, and the error shape.
import t from 'tap';
import { singleManager } from '../helpers/single-manager.js';


t.test('put, get, list, delete', async (t) => {
  const m = await singleManager(t);
  const put = await m.app.inject({ method: 'PUT', url: '/v1/kv/app/port', payload: { value: '8080' } });
  t.equal(put.statusCode, 200);
  const item = put.json() as { key: string; value: string; version: number };
  t.same({ key: item.key, value: item.value }, { key: 'app/port', value: '8080' });
  t.ok(item.version > 0);
  t.same((await m.app.inject({ method: 'GET', url: '/v1/kv/app/port' })).json(), item);
  t.same((await m.app.inject({ method: 'GET', url: '/v1/kv/app/port?stale=true' })).json(), item);
  await m.app.inject({ method: 'PUT', url: '/v1/kv/app/name', payload: { value: 'web' } });
  await m.app.inject({ method: 'PUT', url: '/v1/kv/other', payload: { value: 'x' } });
  const list = (await m.app.inject({ method: 'GET', url: '/v1/kv?prefix=app/' })).json() as { key: string }[];
  t.same(list.map((i) => i.key), ['app/name', 'app/port'], 'sorted, filtered by prefix');
  const del = await m.app.inject({ method: 'DELETE', url: '/v1/kv/app/port' });
  t.equal(del.statusCode, 200);
  const gone = await m.app.inject({ method: 'GET', url: '/v1/kv/app/port' });
  t.equal(gone.statusCode, 404);
  t.equal((gone.json() as { error: { code: string } }).error.code, 'not-found');
  t.equal((await m.app.inject({ method: 'DELETE', url: '/v1/kv/app/port' })).statusCode, 404, 'deleting a missing key');
});

t.test('compare-and-set', async (t) => {
  const m = await singleManager(t);
  const create = await m.app.inject({ method: 'PUT', url: '/v1/kv/lock?cas=0', payload: { value: 'a' } });
  t.equal(create.statusCode, 200, 'cas=0 creates an absent key');
  const v = (create.json() as { version: number }).version;
  const again = await m.app.inject({ method: 'PUT', url: '/v1/kv/lock?cas=0', payload: { value: 'b' } });
  t.equal(again.statusCode, 409);
  t.same((again.json() as { error: { details: unknown } }).error.details, { key: 'lock', expected: 0, actual: v });
  t.equal((await m.app.inject({ method: 'PUT', url: `/v1/kv/lock?cas=${v}`, payload: { value: 'c' } })).statusCode, 200);
  t.equal((await m.app.inject({ method: 'DELETE', url: `/v1/kv/lock?cas=${v}` })).statusCode, 409, 'stale cas on delete');
});

t.test('a retry with the same Idempotency-Key returns the first result and acts once', async (t) => {
  const m = await singleManager(t);
  const h = { 'idempotency-key': 'retry-1' };
  const a = await m.app.inject({ method: 'PUT', url: '/v1/kv/n', payload: { value: '1' }, headers: h });
  await m.app.inject({ method: 'PUT', url: '/v1/kv/n', payload: { value: '2' } });
  const b = await m.app.inject({ method: 'PUT', url: '/v1/kv/n', payload: { value: '1' }, headers: h });
  t.same(b.json(), a.json(), 'the retry answers the first result');
  t.equal(((await m.app.inject({ method: 'GET', url: '/v1/kv/n' })).json() as { value: string }).value, '2', 'and did not write again');
  const c = await m.app.inject({ method: 'PUT', url: '/v1/kv/n', payload: { value: 'other' }, headers: h });
  t.equal(c.statusCode, 422, 'the same key with another body is refused');
  t.match((c.json() as { error: { message: string } }).error.message, /already used for a different request/);
  const cas = { 'idempotency-key': 'cas-1' };
  const f1 = await m.app.inject({ method: 'PUT', url: '/v1/kv/n?cas=1', payload: { value: 'x' }, headers: cas });
  const f2 = await m.app.inject({ method: 'PUT', url: '/v1/kv/n?cas=1', payload: { value: 'x' }, headers: cas });
  t.equal(f1.statusCode, 409);
  t.same(f2.json(), f1.json(), 'a failure is remembered too');
});

t.test('bad input is a 4xx that names what was wrong', async (t) => {
  const m = await singleManager(t);
  const cases: [string, string, unknown, number, RegExp][] = [
    ['PUT', '/v1/kv/a', { value: 3 }, 400, /body\.value: must be string/],
    ['PUT', '/v1/kv/a', { value: 'x', extra: 1 }, 400, /must NOT have additional properties \(extra\)/],
    ['PUT', '/v1/kv/a', {}, 400, /must have required property 'value'/],
    ['PUT', '/v1/kv/a?cas=-1', { value: 'x' }, 400, /querystring\.cas: must be >= 0/],
    ['PUT', '/v1/kv/a?cas=abc', { value: 'x' }, 400, /querystring\.cas: must be integer/],
    ['PUT', '/v1/kv/a?bogus=1', { value: 'x' }, 400, /bogus/],
    ['PUT', `/v1/kv/${'k'.repeat(300)}`, { value: 'x' }, 400, /params\.\*: must match pattern/],
    ['PUT', '/v1/kv/sp%20ace', { value: 'x' }, 400, /params\.\*/],
    ['GET', '/v1/kv/a?stale=maybe', undefined, 400, /querystring\.stale: must be boolean/],
    ['GET', '/v1/nowhere', undefined, 404, /no route GET \/v1\/nowhere/],
  ];
  for (const [method, url, payload, status, msg] of cases) {
    const res = await m.app.inject({ method: method as 'PUT', url, payload: payload as object | undefined });
    t.equal(res.statusCode, status, `${method} ${url.slice(0, 40)} -> ${status}`);
    const err = (res.json() as { error: { code: string; message: string } }).error;
    t.match(err.message, msg, err.message);
  }
  const notJson = await m.app.inject({ method: 'PUT', url: '/v1/kv/a', payload: '{nope', headers: { 'content-type': 'application/json' } });
  t.equal(notJson.statusCode, 400, 'malformed JSON is a 400');
  const big = await m.app.inject({ method: 'PUT', url: '/v1/kv/a', payload: { value: 'x'.repeat(3 << 20) } });
  t.equal(big.statusCode, 413, 'an oversized body is a 413');
});

t.test('the Raft routes refuse strangers and malformed frames', async (t) => {
  const m = await singleManager(t);
  const base = { method: 'POST' as const, url: '/raft/messages', headers: { 'content-type': 'application/octet-stream' } };
  const wrongCluster = await m.app.inject({ ...base, headers: { ...base.headers, 'x-orch-cluster': 'nope', 'x-orch-from': '1' }, payload: Buffer.alloc(4) });
  t.equal(wrongCluster.statusCode, 403);
  const status = (await m.app.inject({ method: 'GET', url: '/raft/status' })).json() as { id: number };
  t.equal(status.id, 1);
});
