// Idempotency keys: the bounds of what the state machine remembers of them (count and bytes, the
// same on every replica and after a restore, old snapshots included), the header's limits, and the
// namespace that keeps clients' keys apart from the managers' own command ids.
import t from 'tap';
import fc from 'fast-check';
import { ManagerState, MAX_REMEMBERED, MAX_REMEMBERED_BYTES, type Envelope } from '../../src/manager/state/machine.js';
import { normalizeSpec } from '../../src/spec/index.js';
import { singleManager } from '../helpers/single-manager.js';

/** What a client's id looks like at its longest: a 128-character key in a token caller's namespace. */
function clientId(n: number, len = 128): string {
  const key = `${n}-`.padEnd(len, 'k');
  return `c:token:0123456789abcdef:${key}`;
}

function applyAll(st: ManagerState, cmds: Envelope[], first = 1): unknown[] {
  return cmds.map((c, k) => st.apply({ term: 1, index: first + k, type: 0, data: ManagerState.encode(c) }));
}

const put = (id: string, value = 'v'): Envelope => ({ op: 'kv.put', key: 'k', value, id });

t.test('a flood of fresh longest keys stays within the byte bound, forgetting the oldest first', async (t) => {
  const st = new ManagerState();
  const n = 120_000;
  let maxBytes = 0;
  for (let k = 0; k < n; k++) {
    st.apply({ term: 1, index: k + 1, type: 0, data: ManagerState.encode(put(clientId(k))) });
    if (st.rememberedBytes > maxBytes) maxBytes = st.rememberedBytes;
  }
  t.ok(maxBytes <= MAX_REMEMBERED_BYTES, `at most ${maxBytes} bytes counted (bound ${MAX_REMEMBERED_BYTES})`);
  t.ok(st.rememberedKeys < MAX_REMEMBERED, `${st.rememberedKeys} keys remembered: the byte bound, not the count, held them`);
  t.ok(st.rememberedKeys > 40_000, 'yet tens of thousands of recent keys are kept for retries');
  // The newest key is still known: its retry answers the first result and writes nothing.
  const version = st.kv.get('k')!.version;
  const retry = st.apply({ term: 1, index: n + 1, type: 0, data: ManagerState.encode(put(clientId(n - 1))) }) as { item: { version: number } };
  t.equal(retry.item.version, n, 'a retry of the newest key answers its first result');
  t.equal(st.kv.get('k')!.version, version, 'and does not write again');
  // The oldest was forgotten: the same key now acts as a new write.
  const again = st.apply({ term: 1, index: n + 2, type: 0, data: ManagerState.encode(put(clientId(0))) }) as { item: { version: number } };
  t.equal(again.item.version, n + 2, 'the oldest key was forgotten');
});

t.test('a snapshot keeps the bound and restores the same remembered keys', async (t) => {
  const st = new ManagerState();
  applyAll(st, Array.from({ length: 70_000 }, (_, k) => put(clientId(k))));
  const snap = st.snapshot();
  t.ok(snap.byteLength < MAX_REMEMBERED_BYTES + 2 ** 20, `the snapshot is ${snap.byteLength} bytes: the keys' share is bounded`);
  const back = new ManagerState();
  back.restore(snap);
  t.equal(back.rememberedBytes, st.rememberedBytes, 'the same bytes counted');
  t.equal(back.rememberedKeys, st.rememberedKeys, 'the same keys');
  t.equal(Buffer.compare(Buffer.from(back.snapshot()), Buffer.from(snap)), 0, 'and the same snapshot again');
});

t.test('older snapshots (v3, v4) restore; keys beyond the bound go, oldest first', async (t) => {
  const st = new ManagerState();
  applyAll(st, [put('c:anonymous:a', 'x')]);
  const v5 = JSON.parse(Buffer.from(st.snapshot()).toString('utf8')) as Record<string, unknown> & { recent: unknown[] };
  t.equal(v5.v, 5);
  // A v4 snapshot from before the bounds: more keys than they allow, whole service results, no settings.
  const spec = normalizeSpec({ name: 'web', image: 'orch/busybox:latest', env: { BIG: 'x'.repeat(10_000) } });
  const svcResult = { ok: true, created: true, changed: true, service: { id: 's1', name: 'web', spec } };
  const recent: unknown[] = ['svc-key', 123, 1, svcResult];
  for (let k = 0; k < 110_000; k++) recent.push(`old-${k}`, 1, k + 2, null);
  const { settings: _settings, ...rest } = v5;
  const v4 = { ...rest, v: 4, recent };
  const back = new ManagerState();
  back.restore(Buffer.from(JSON.stringify(v4)));
  t.equal(back.settings.settings, null, 'no settings in a v4 snapshot: the leader seeds them');
  t.equal(back.rememberedKeys, MAX_REMEMBERED, `the count bound holds (${back.rememberedKeys})`);
  t.ok(back.rememberedBytes <= MAX_REMEMBERED_BYTES);
  const again = JSON.parse(Buffer.from(back.snapshot()).toString('utf8')) as { recent: unknown[] };
  t.equal(again.recent[0], `old-${110_000 - MAX_REMEMBERED}`, 'the oldest went first');
  const v3 = { ...v4, v: 3, cluster: { services: [], tasks: [], nodes: [], revision: 0, assignVersion: [] }, recent: [] };
  t.doesNotThrow(() => new ManagerState().restore(Buffer.from(JSON.stringify(v3))), 'a v3 snapshot restores');
  t.throws(() => new ManagerState().restore(Buffer.from(JSON.stringify({ ...v4, v: 6 }))), /snapshot format 6 is not supported/);
});

t.test('a service result is remembered by the service id, not whole; a retry still answers the service', async (t) => {
  const st = new ManagerState();
  const spec = normalizeSpec({ name: 'web', image: 'orch/busybox:latest', env: { BIG: 'x'.repeat(20_000) } });
  const cmd: Envelope = { op: 'service.upsert', ts: 1, serviceId: 's1', spec, id: 'c:anonymous:create' };
  const [first, retry] = applyAll(st, [cmd, { ...cmd, ts: 2, serviceId: 'other' }]) as { created: boolean; service: { id: string; spec: { env: Record<string, string> } } }[];
  t.ok(st.rememberedBytes < 1_000, `${st.rememberedBytes} bytes remembered for a 20 KB spec`);
  t.equal(retry.created, true, 'the retry says created, as the first answer did');
  t.equal(retry.service.id, 's1');
  t.same(retry.service.spec, first.service.spec, 'with the service');
  t.equal(st.cluster.services.size, 1, 'created once');
});

t.test('replicas and restores agree on what is remembered, for any mix of key lengths', async (t) => {
  let checked = 0;
  const step = fc.record({ len: fc.integer({ min: 1, max: 4000 }), reuse: fc.boolean(), value: fc.constantFrom('a', 'b') });
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), fc.nat(), (steps, cut) => {
      // Long keys (up to 4,000 characters, beyond what the API lets through) with a small bound
      // would need millions of entries; the bound is checked by bytes counted, the agreement by
      // comparing snapshots.
      const cmds = steps.map((s, k) => put(s.reuse && k > 0 ? clientId(k - 1, steps[k - 1].len) : clientId(k, s.len), s.value));
      const a = new ManagerState();
      applyAll(a, cmds);
      if (a.rememberedBytes > MAX_REMEMBERED_BYTES) throw new Error('over the bound');
      const k = cut % (cmds.length + 1);
      const b = new ManagerState();
      applyAll(b, cmds.slice(0, k));
      const c = new ManagerState();
      c.restore(b.snapshot());
      applyAll(c, cmds.slice(k), k + 1);
      if (c.rememberedBytes !== a.rememberedBytes) throw new Error(`bytes differ after a restore at ${k}`);
      if (Buffer.compare(Buffer.from(c.snapshot()), Buffer.from(a.snapshot())) !== 0) throw new Error(`restore at ${k} then the rest differs`);
      checked++;
    }),
    { numRuns: 300, seed: 1729 },
  );
  t.equal(checked, 300, '300 sequences (seed 1729)');
});

t.test('the cluster settings: the first init wins, an update changes them, snapshots carry them', async (t) => {
  const st = new ManagerState();
  const [a, b, c] = applyAll(st, [
    // Written as a version before allowHostNetwork would have: it reads as allowed.
    { op: 'settings.init', ts: 1, settings: { allowPrivileged: true } as never, id: 'settings.init' },
    { op: 'settings.init', ts: 2, settings: { allowPrivileged: false, allowHostNetwork: false }, id: 'settings.init.other' },
    { op: 'settings.update', ts: 3, allowPrivileged: false, id: 'c:anonymous:u1' },
  ]) as { changed: boolean; settings: { allowPrivileged: boolean } }[];
  t.same([a.changed, b.changed, c.changed], [true, false, true]);
  t.same(b.settings, { allowPrivileged: true, allowHostNetwork: true }, 'a second init is ignored');
  t.same(st.settings.settings, { allowPrivileged: false, allowHostNetwork: true });
  const [d] = applyAll(st, [{ op: 'settings.update', ts: 4, allowHostNetwork: false, id: 'c:anonymous:u2' }]) as { changed: boolean }[];
  t.ok(d.changed, 'host networking refused by an update');
  t.same(st.settings.settings, { allowPrivileged: false, allowHostNetwork: false });
  const back = new ManagerState();
  back.restore(st.snapshot());
  t.same(back.settings.settings, { allowPrivileged: false, allowHostNetwork: false }, 'restored from the snapshot');
});

t.test('the Idempotency-Key header: bounded, of a small alphabet, in the caller\'s namespace', async (t) => {
  const m = await singleManager(t);
  const long = await m.app.inject({ method: 'PUT', url: '/v1/kv/a', payload: { value: 'x' }, headers: { 'idempotency-key': 'k'.repeat(129) } });
  t.equal(long.statusCode, 400, 'a 129-character key is refused');
  t.match((long.json() as { error: { message: string } }).error.message, /Idempotency-Key header must be 1 to 128 characters of A-Z a-z 0-9 \. _ : - \(it is 129 characters long\)/);
  const odd = await m.app.inject({ method: 'PUT', url: '/v1/kv/a', payload: { value: 'x' }, headers: { 'idempotency-key': 'a b' } });
  t.equal(odd.statusCode, 400, 'a space is refused');
  t.equal((odd.json() as { error: { code: string } }).error.code, 'bad-idempotency-key');
  const hb = await m.app.inject({ method: 'POST', url: '/v1/nodes/0123456789ab/heartbeat', payload: {}, headers: { 'idempotency-key': 'x'.repeat(16_000) } });
  t.equal(hb.statusCode, 400, 'also on a heartbeat, which proposes nothing without reports');
  const svc = { name: 'web', image: 'orch/busybox:latest' };
  t.equal((await m.app.inject({ method: 'POST', url: '/v1/services', payload: svc, headers: { 'idempotency-key': 'svc-1' } })).statusCode, 201);
  const reused = await m.app.inject({ method: 'POST', url: '/v1/services', payload: { ...svc, replicas: 3 }, headers: { 'idempotency-key': 'svc-1' } });
  t.equal(reused.statusCode, 422, 'a key reused for another service write: 422');
  t.match((reused.json() as { error: { message: string } }).error.message, /already used for a different request/, 'saying so');
  const ok = await m.app.inject({ method: 'PUT', url: '/v1/kv/a', payload: { value: 'x' }, headers: { 'idempotency-key': 'A.b_c:d-9'.padEnd(128, 'z') } });
  t.equal(ok.statusCode, 200, 'a 128-character key of the alphabet is taken');
  // A client's key equal to a manager's own id lands in the client's namespace: the leader's
  // announcement of the next term is not pre-claimed.
  const term = m.node.term();
  const claim = await m.app.inject({ method: 'PUT', url: '/v1/kv/b', payload: { value: 'x' }, headers: { 'idempotency-key': `leader.${term + 1}.${m.id}` } });
  t.equal(claim.statusCode, 200);
  const ids = JSON.parse(Buffer.from(m.state.snapshot()).toString('utf8')).recent.filter((_: unknown, k: number) => k % 4 === 0) as string[];
  t.ok(ids.includes(`c:anonymous:leader.${term + 1}.${m.id}`), 'the key was remembered in the anonymous caller\'s namespace');
  t.notOk(ids.includes(`leader.${term + 1}.${m.id}`), 'not as the leader\'s own id');
  t.ok(ids.filter((id) => !id.startsWith('c:')).every((id) => /^(settings\.init|security\.init\.|[0-9a-f]{12}$)/.test(id)), `the managers' own remembered ids are outside the clients' namespace: ${ids.filter((id) => !id.startsWith('c:')).join(', ')}`);
});
