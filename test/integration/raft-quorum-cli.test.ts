// Without a quorum the API answers a prompt 503 that says so; the CLI reads and writes the store,
// prints tables or --json, and fails with one line on stderr.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ORCH_BIN, ProcessCluster } from '../helpers/cluster.js';

const exec = promisify(execFile);

function orch(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return exec(process.execPath, [ORCH_BIN, ...args]).then(
    (r) => ({ ...r, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => ({ stdout: e.stdout, stderr: e.stderr, code: e.code }),
  );
}

t.test('the CLI: kv set/get/ls/rm and cluster, tables and --json', async (t) => {
  const c = await ProcessCluster.start({ managers: 3 });
  t.teardown(() => c.stop());
  await c.waitForLeader();
  const m = ['--manager', c.addresses.join(',')];
  const set = await orch(['kv', 'set', 'app/port', '8080', ...m]);
  t.equal(set.code, 0, set.stderr);
  t.match(set.stdout, /^app\/port = 8080 \(version \d+\)/);
  const get = await orch(['kv', 'get', 'app/port', '--json', '--manager', c.addresses[2]]);
  t.same(JSON.parse(get.stdout), { key: 'app/port', value: '8080', version: (JSON.parse(get.stdout) as { version: number }).version }, 'only JSON on stdout');
  const ls = await orch(['kv', 'ls', 'app/', ...m]);
  t.match(ls.stdout, /KEY\s+VALUE\s+VERSION\napp\/port\s+8080\s+\d+/);
  const cas = await orch(['kv', 'set', 'app/port', '9', '--cas', '1', ...m]);
  t.equal(cas.code, 1, 'a failed CAS exits non-zero');
  t.equal(cas.stderr.trim().split('\n').length, 1, 'with one line on stderr');
  t.match(cas.stderr, /^orch: key app\/port: expected version 1, the current version is \d+ \(cas-mismatch\)/);
  t.equal((await orch(['kv', 'rm', 'app/port', ...m])).code, 0);
  const missing = await orch(['kv', 'get', 'app/port', ...m]);
  t.match(missing.stderr, /key app\/port does not exist \(not-found\)/);
  const cluster = await orch(['cluster', '--json', '--manager', c.addresses[1]]);
  const info = JSON.parse(cluster.stdout) as { leader: number; managers: { role: string; reachable: boolean }[] };
  t.equal(info.managers.length, 3);
  t.equal(info.managers.filter((x) => x.role === 'leader').length, 1);
  const table = await orch(['cluster', ...m]);
  t.match(table.stdout, /ID\s+ADDRESS\s+ROLE\s+SUFFRAGE\s+TERM\s+COMMIT\s+APPLIED\s+REACHABLE/);
  t.match(table.stdout, /leader \*/);
  const bad = await orch(['kv', 'get', 'x', '--manager', 'nonsense']);
  t.match(bad.stderr, /^orch: --manager: expected host:port/);
  const badFlag = await orch(['manager', '--listen', '127.0.0.1:1', '--peers', '127.0.0.1:2', '--data-dir', '/tmp/x']);
  t.match(badFlag.stderr, /--peers: this manager's address 127\.0\.0\.1:1 is not in the list/);
});

for (const who of ['follower', 'leader'] as const) {
  t.test(`with no quorum, a ${who} answers writes and linearizable reads with a prompt 503; stale reads still work`, async (t) => {
    const c = await ProcessCluster.start({ managers: 3 });
    t.teardown(() => c.stop());
    const { index } = await c.waitForLeader();
    const client = c.client();
    t.teardown(() => client.close());
    const put = await client.kvPut('k', 'v');
    const survivor = who === 'leader' ? index : (index + 1) % 3;
    await c.waitForApplied(survivor, put.version);
    await Promise.all([0, 1, 2].filter((k) => k !== survivor).map((k) => c.kill(k, 'SIGKILL')));
    const addr = c.managers[survivor].address;
    for (const [method, path, body] of [
      ['PUT', '/v1/kv/k', '{"value":"w"}'],
      ['GET', '/v1/kv/k', undefined],
    ] as const) {
      const t0 = Date.now();
      const res = await fetch(`http://${addr}${path}`, { method, body, headers: body ? { 'content-type': 'application/json' } : {}, signal: AbortSignal.timeout(15_000) });
      const took = Date.now() - t0;
      const j = (await res.json()) as { error: { code: string; message: string } };
      t.equal(res.status, 503, `${method} ${path}: 503 (${j.error.code}: ${j.error.message})`);
      t.ok(took < 6000, `${method} answered in ${took} ms, not a hang`);
      t.match(j.error.message, /leader|quorum/);
    }
    const stale = await fetch(`http://${addr}/v1/kv/k?stale=true`);
    t.equal(stale.status, 200);
    t.equal(((await stale.json()) as { value: string }).value, 'v');
  });
}
