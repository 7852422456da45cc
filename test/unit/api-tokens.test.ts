// Named API tokens in the replicated state, without a network: made, rotated and revoked only by
// committed commands, names unique and well-formed, the last admin token kept; states and snapshots
// of the version before names restore as named tokens; join tokens read from a file only its owner
// may read.
import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagerState, type Envelope } from '../../src/manager/state/machine.js';
import type { ClusterSecrets } from '../../src/api/tokens.js';
import { SecurityState } from '../../src/manager/state/security-state.js';
import { findByHash, hashSecret } from '../../src/security/tokens.js';
import { joinTokenOf } from '../../src/cli/join-token.js';
import { routeAccess } from '../helpers/route-access.js';

const h = (c: string) => c.repeat(64);
const base = (api: unknown): ClusterSecrets => ({ clusterId: 'c1', ca: { certPem: 'CA', keyPem: 'KEY' }, join: { worker: 'w', manager: 'm' }, api: api as ClusterSecrets['api'] });

t.test('create, rotate and revoke: names unique and well-formed; the last admin token stays', async (t) => {
  const s = new SecurityState();
  t.match(s.apply({ op: 'security.token.create', ts: 1, name: 'ci', role: 'readonly', hash: h('a') }), { ok: false, code: 'not-initialized' }, 'nothing before init');
  s.apply({ op: 'security.init', ts: 5, secrets: base([{ name: 'admin', role: 'admin', hash: h('0'), createdAt: 5 }]) });
  t.same(s.apply({ op: 'security.token.create', ts: 6, name: 'ci', role: 'readonly', hash: h('a') }), { ok: true, changed: true });
  const dup = s.apply({ op: 'security.token.create', ts: 7, name: 'ci', role: 'admin', hash: h('b') });
  t.match(dup, { ok: false, code: 'token-exists', message: /already an API token named ci/ }, 'a name is taken once');
  for (const bad of ['', 'CI', 'a b', '-x', 'x'.repeat(65), 'ci/../x']) {
    t.match(s.apply({ op: 'security.token.create', ts: 8, name: bad, role: 'readonly', hash: h('c') }), { ok: false, code: 'bad-token-name' }, `refused name ${JSON.stringify(bad)}`);
  }
  t.same(s.apply({ op: 'security.token.rotate', ts: 9, name: 'ci', hash: h('d') }), { ok: true, changed: true });
  t.match(s.secrets!.api.find((x) => x.name === 'ci'), { hash: h('d'), createdAt: 6, rotatedAt: 9 }, 'rotation replaces the hash only');
  t.match(s.apply({ op: 'security.token.rotate', ts: 9, name: 'nope', hash: h('d') }), { ok: false, code: 'token-not-found', message: /no API token named nope/ });
  const last = s.apply({ op: 'security.token.revoke', ts: 10, name: 'admin' });
  t.match(last, { ok: false, code: 'last-admin-token', message: /last admin token/ }, 'the last admin token cannot be revoked, and the error says why');
  s.apply({ op: 'security.token.create', ts: 11, name: 'ops', role: 'admin', hash: h('e') });
  t.same(s.apply({ op: 'security.token.revoke', ts: 12, name: 'admin' }), { ok: true, changed: true }, 'with another admin token it can');
  t.same(s.apply({ op: 'security.token.revoke', ts: 13, name: 'ci' }), { ok: true, changed: true });
  t.same(s.secrets!.api.map((x) => x.name), ['ops']);
});

t.test('the state before names (two lists of hashes) restores as named tokens', async (t) => {
  const legacy = base({ admin: [h('1'), h('2')], readonly: [h('3')] });
  const m = new ManagerState();
  m.restore(Buffer.from(JSON.stringify({ v: 4, applied: 3, kv: [], cluster: new ManagerState().cluster.encode(), security: legacy, recent: [] })));
  t.same(
    m.security.secrets!.api.map(({ name, role, hash }) => ({ name, role, hash })),
    [
      { name: 'admin', role: 'admin', hash: h('1') },
      { name: 'admin-2', role: 'admin', hash: h('2') },
      { name: 'readonly', role: 'readonly', hash: h('3') },
    ],
  );
  // An init proposed by a manager of the earlier version carries the earlier form too.
  const fresh = new ManagerState();
  const init: Envelope = { op: 'security.init', ts: 42, secrets: legacy, id: 'init' };
  fresh.apply({ index: 1, term: 1, data: ManagerState.encode(init) } as never);
  t.match(fresh.security.secrets!.api, [{ name: 'admin', createdAt: 42 }, { name: 'admin-2' }, { name: 'readonly' }]);
  // And the snapshot of the new form round-trips.
  const again = new ManagerState();
  again.restore(fresh.snapshot());
  t.same(again.security.secrets!.api, fresh.security.secrets!.api);
});

t.test('token commands through the log: a retry is answered the same, a retry with another secret refused', async (t) => {
  const m = new ManagerState();
  let index = 0;
  const apply = (cmd: Envelope) => m.apply({ index: ++index, term: 1, data: ManagerState.encode(cmd) } as never);
  apply({ op: 'security.init', ts: 1, secrets: base([{ name: 'admin', role: 'admin', hash: h('0'), createdAt: 1 }]), id: 'i' });
  t.same(apply({ op: 'security.token.create', ts: 2, name: 'ci', role: 'readonly', hash: h('a'), id: 'k1' }), { ok: true, changed: true });
  t.same(apply({ op: 'security.token.create', ts: 3, name: 'ci', role: 'readonly', hash: h('a'), id: 'k1' }), { ok: true, changed: true }, 'the same command again: the first result');
  t.match(apply({ op: 'security.token.create', ts: 3, name: 'ci', role: 'readonly', hash: h('b'), id: 'k1' }), { ok: false, code: 'idempotency-key-reused' }, 'a retry that drew another secret is not applied');
  t.match(apply({ op: 'security.token.revoke', ts: 4, name: 'admin', id: 'k2' }), { ok: false, code: 'last-admin-token' });
  t.equal(m.security.secrets!.api.length, 2);
});

t.test('a secret finds its token by hash; none matches a stranger', async (t) => {
  const list = [
    { name: 'a', hash: hashSecret('s1') },
    { name: 'b', hash: hashSecret('s2') },
    { name: 'broken', hash: 'zz' },
  ];
  t.equal(findByHash('s2', list)?.name, 'b');
  t.equal(findByHash('s3', list), undefined);
});

t.test('the API tokens\' routes are admin only, and do not clash with the join tokens\'', async (t) => {
  const access = await routeAccess(t);
  t.same(await access('GET', '/v1/tokens/api'), { access: 'admin', route: '/v1/tokens/api' }, 'listing needs an admin token, though a GET');
  t.same(await access('POST', '/v1/tokens/api'), { access: 'admin', route: '/v1/tokens/api' });
  t.same(await access('POST', '/v1/tokens/api/ci/rotate'), { access: 'admin', route: '/v1/tokens/api/:name/rotate' });
  t.same(await access('DELETE', '/v1/tokens/api/ci'), { access: 'admin', route: '/v1/tokens/api/:name' });
  t.same(await access('GET', '/v1/tokens/worker'), { access: 'admin', route: '/v1/tokens/:role' });
});

t.test('join token from --token-file (owner-only), ORCH_JOIN_TOKEN or --token', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-tokfile-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'token');
  writeFileSync(file, 'ORCH-1-x\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  t.equal(joinTokenOf({ tokenFile: file }, {}), 'ORCH-1-x', 'read and trimmed');
  chmodSync(file, 0o644);
  t.throws(() => joinTokenOf({ tokenFile: file }, {}), /other users may read it \(mode 644\).*chmod 600/, 'a file others may read is refused');
  t.throws(() => joinTokenOf({ tokenFile: join(dir, 'none') }, {}), /--token-file .*none: cannot read it \(ENOENT\)/);
  const empty = join(dir, 'empty');
  writeFileSync(empty, '\n', { mode: 0o600 });
  t.throws(() => joinTokenOf({ tokenFile: empty }, {}), /the file is empty/);
  t.throws(() => joinTokenOf({ tokenFile: file, token: 'x' }, {}), /give one of them, not both/);
  t.equal(joinTokenOf({}, { ORCH_JOIN_TOKEN: 'from-env' }), 'from-env');
  t.equal(joinTokenOf({ token: 'flag' }, { ORCH_JOIN_TOKEN: 'from-env' }), 'flag');
  t.equal(joinTokenOf({}, { ORCH_JOIN_TOKEN: '' }), undefined, 'an empty variable is no token');
});
