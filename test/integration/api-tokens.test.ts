// Named API tokens on a real TLS cluster of 3 manager processes, through the CLI and the API:
// created, listed (never a secret or a hash), rotated and revoked; a rotated-away or revoked token
// is refused by every manager, a read-only token cannot manage tokens, and the last admin token
// stays.
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { ORCH_BIN, ProcessCluster } from '../helpers/cluster.js';
import { until } from '../helpers/docker-cluster.js';
import { hashSecret, parseToken } from '../../src/security/tokens.js';

/** The CLI, with the API token in the environment (never on its command line). */
function orch(args: string[], token: string, timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ORCH_BIN, ...args], { env: { ...process.env, ORCH_TOKEN: token }, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

t.test('API tokens: create, list, rotate, revoke, on every manager', async (t) => {
  const c = await ProcessCluster.start({ secure: true, managers: 3 });
  t.teardown(() => c.stop());
  await c.waitForLeader(30_000);
  const tokens = c.tokens();
  const ca = readFileSync(join(c.managers[0].dataDir, 'tls', 'ca.pem'), 'utf8');
  const agent = new Agent({ connect: { ca, checkServerIdentity: () => undefined } });
  t.teardown(() => agent.close());
  const managers = c.addresses.join(',');

  async function call(to: string, path: string, token: string, o: { method?: 'GET' | 'POST' | 'DELETE'; body?: unknown; key?: string } = {}) {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (o.key) headers['idempotency-key'] = o.key;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    const res = await request(`https://${to}${path}`, { method: o.method ?? 'GET', headers, body: o.body === undefined ? undefined : JSON.stringify(o.body), dispatcher: agent, headersTimeout: 5_000 });
    const text = await res.body.text();
    return { status: res.statusCode, text, json: (text ? JSON.parse(text) : null) as { error?: { code: string; message: string } } & Record<string, unknown> };
  }
  /** Polls every manager (bounded) until `token` gets `status` for a read there. */
  async function everywhere(token: string, want: (status: number) => boolean, what: string) {
    for (const a of c.addresses) {
      await until(async () => want((await call(a, '/v1/services', token)).status), 10_000).catch((err: Error) => {
        throw new Error(`manager ${a}: ${what}: ${err.message}`);
      });
    }
  }
  const secretsOf = (...ts: string[]) => ts.flatMap((x) => [x, parseToken('t', x).secret, hashSecret(parseToken('t', x).secret)]);

  let ci = '';
  await t.test('orch token create prints the token once; it works on every manager with its role', async (t) => {
    const r = await orch(['token', 'create', 'ci', '--role', 'readonly', '--manager', managers], tokens.admin);
    t.equal(r.code, 0, `created${r.code ? `: ${r.stderr}` : ''}`);
    ci = r.stdout.trim();
    t.doesNotThrow(() => parseToken('stdout', ci), 'stdout is the token alone');
    t.match(r.stderr, /created readonly token ci; it is shown only this once/);
    await everywhere(ci, (s) => s === 200, 'the new read-only token reads');
    const write = await call(c.addresses[1], '/v1/kv/x', ci, { method: 'POST', body: {} });
    t.equal(write.status, 403, 'and cannot write');
    const again = await orch(['token', 'create', 'ci', '--manager', managers], tokens.admin);
    t.not(again.code, 0, 'a taken name is refused');
    t.match(again.stderr, /already an API token named ci/);
    const bad = await call(c.addresses[0], '/v1/tokens/api', tokens.admin, { method: 'POST', body: { name: 'Bad Name', role: 'readonly' } });
    t.equal(bad.status, 400, 'a bad name: 400');
    t.match(bad.json.error?.message, /name/, 'naming the field');
    const role = await call(c.addresses[0], '/v1/tokens/api', tokens.admin, { method: 'POST', body: { name: 'x', role: 'root' } });
    t.equal(role.status, 400, 'an unknown role: 400');
    // A client's retry of a create whose answer it lost: the secret in force is the first one's.
    const first = await call(c.addresses[0], '/v1/tokens/api', tokens.admin, { method: 'POST', body: { name: 'retried' }, key: 'k-retried' });
    t.equal(first.status, 201);
    const retry = await call(c.addresses[1], '/v1/tokens/api', tokens.admin, { method: 'POST', body: { name: 'retried' }, key: 'k-retried' });
    t.equal(retry.status, 409, 'the retry is told, not given a secret that is not the token\'s');
    t.equal(retry.json.error?.code, 'secret-not-shown');
    t.notOk(retry.text.includes('ORCH-1-'), 'and carries no token');
    await everywhere(first.json.token as string, (s) => s === 200, 'the first answer\'s token is the one in force');
    t.equal((await orch(['token', 'rm', 'retried', '--manager', managers], tokens.admin)).code, 0);
  });

  let ops = '';
  await t.test('the API makes an admin token through a follower; it manages tokens', async (t) => {
    const leader = (await c.waitForLeader()).index;
    const follower = c.addresses[(leader + 1) % 3];
    const r = await call(follower, '/v1/tokens/api', tokens.admin, { method: 'POST', body: { name: 'ops', role: 'admin' } });
    t.equal(r.status, 201, `created through a follower: ${r.text}`);
    t.match(r.json, { name: 'ops', role: 'admin' });
    ops = r.json.token as string;
    await everywhere(ops, (s) => s === 200, 'the new admin token is accepted');
  });

  await t.test('the list names the tokens, never a secret or a hash', async (t) => {
    const r = await orch(['token', 'ls', '--json', '--manager', managers], ops);
    t.equal(r.code, 0, `listed${r.code ? `: ${r.stderr}` : ''}`);
    const list = JSON.parse(r.stdout) as { name: string; role: string; createdAt: string }[];
    t.same(list.map((x) => [x.name, x.role]).sort(), [['admin', 'admin'], ['ci', 'readonly'], ['ops', 'admin'], ['readonly', 'readonly']]);
    t.ok(list.every((x) => Object.keys(x).every((k) => ['name', 'role', 'createdAt', 'rotatedAt'].includes(k))), 'only names, roles and dates');
    const table = await orch(['token', 'ls', '--manager', managers], ops);
    t.match(table.stdout, /NAME\s+ROLE\s+CREATED/);
    for (const a of c.addresses) {
      const raw = (await call(a, '/v1/tokens/api', tokens.admin)).text;
      for (const s of secretsOf(tokens.admin, tokens.readonly, ci, ops)) t.notOk(raw.includes(s) || r.stdout.includes(s) || table.stdout.includes(s), `no secret or hash from ${a}`);
    }
  });

  await t.test('a read-only token cannot see or manage tokens', async (t) => {
    for (const [method, path, body] of [
      ['GET', '/v1/tokens/api', undefined],
      ['POST', '/v1/tokens/api', { name: 'mine', role: 'admin' }],
      ['POST', '/v1/tokens/api/ci/rotate', undefined],
      ['DELETE', '/v1/tokens/api/ops', undefined],
    ] as const) {
      const r = await call(c.addresses[2], path, ci, { method, body });
      t.equal(r.status, 403, `${method} ${path}: 403`);
      t.equal(r.json.error?.code, 'read-only-token');
    }
    const cli = await orch(['token', 'create', 'mine', '--role', 'admin', '--manager', managers], ci);
    t.not(cli.code, 0, 'nor through the CLI');
    t.match(cli.stderr, /read-only token cannot .*named ci/);
    // /v1/tokens/api is not a join token's role.
    t.equal((await call(c.addresses[0], '/v1/tokens/api/rotate', tokens.admin, { method: 'POST' })).status, 400, '"api" is no join-token role');
  });

  await t.test('rotate: the old secret is refused on every manager, the new one accepted', async (t) => {
    const r = await orch(['token', 'rotate', 'ci', '--json', '--manager', managers], ops);
    t.equal(r.code, 0, `rotated${r.code ? `: ${r.stderr}` : ''}`);
    const next = (JSON.parse(r.stdout) as { token: string }).token;
    t.not(next, ci);
    await everywhere(ci, (s) => s === 401, 'the rotated-away token is refused');
    await everywhere(next, (s) => s === 200, 'the new one reads');
    ci = next;
  });

  await t.test('revoke: refused on every manager; the last admin token cannot be revoked', async (t) => {
    const r = await orch(['token', 'rm', 'ci', '--manager', managers], ops);
    t.equal(r.code, 0, `revoked${r.code ? `: ${r.stderr}` : ''}`);
    await everywhere(ci, (s) => s === 401, 'the revoked token is refused');
    t.equal((await orch(['token', 'revoke', 'admin', '--manager', managers], ops)).code, 0, 'one of two admin tokens may go');
    await everywhere(tokens.admin, (s) => s === 401, 'the revoked admin token is refused');
    const last = await orch(['token', 'revoke', 'ops', '--manager', managers], ops);
    t.not(last.code, 0, 'the last admin token stays');
    t.match(last.stderr, /last admin token/);
    t.equal((await call(c.addresses[0], '/v1/tokens/api/nope', ops, { method: 'DELETE' })).status, 404, 'an unknown name: 404');
  });
});
