// What a new TLS cluster's first manager prints and what `orch token manager|worker` prints tell a
// user how to add a node: this test runs the printed manager command as written (placeholders
// filled in) and checks that the new manager joins, so the hint cannot drift from the CLI again.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ORCH_BIN, ProcessCluster, freePort } from '../helpers/cluster.js';
import { until } from '../helpers/docker-cluster.js';

function orch(args: string[], token: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ORCH_BIN, ...args], { env: { ...process.env, ORCH_TOKEN: token }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The `ORCH_JOIN_TOKEN=... orch ...` command in a line of text, as [token, args]. */
function commandIn(text: string, role: 'manager' | 'worker'): { token: string; args: string[] } {
  const m = new RegExp(`ORCH_JOIN_TOKEN=(\\S+) orch (${role} .*)$`, 'm').exec(text);
  if (!m) throw new Error(`no "ORCH_JOIN_TOKEN=... orch ${role} ..." command in:\n${text}`);
  return { token: m[1], args: m[2].trim().split(/\s+/) };
}

t.test('the banner and `orch token` print a command that adds a node', async (t) => {
  const c = await ProcessCluster.start({ managers: 1, secure: true });
  t.teardown(() => c.stop());
  await c.waitForLeader(30_000);
  const first = c.addresses[0];
  const tokens = c.tokens();

  await until(async () => readFileSync(c.managers[0].logFile, 'utf8').includes('managers: ORCH_JOIN_TOKEN='), 10_000);
  const banner = readFileSync(c.managers[0].logFile, 'utf8');
  const bannerManager = commandIn(banner, 'manager');
  t.equal(bannerManager.token, tokens.manager, 'the banner shows the manager join token');
  t.same(bannerManager.args.slice(0, 3), ['manager', '--join', first], 'the banner tells a manager to --join this one');
  t.notOk(bannerManager.args.includes('--peers'), 'and not to use --peers');
  const bannerWorker = commandIn(banner, 'worker');
  t.same(bannerWorker.args.slice(0, 3), ['worker', '--join', first], 'the banner tells a worker to --join this one');
  t.ok(bannerWorker.args.includes('--name') && bannerWorker.args.includes('--data-dir'), 'with the options a worker requires');

  const w = await orch(['token', 'worker', '--manager', first], tokens.admin);
  t.equal(w.code, 0, `orch token worker${w.code ? `: ${w.stderr}` : ''}`);
  t.equal(commandIn(w.stdout, 'worker').token, tokens.worker, 'orch token worker shows the worker token in its command');

  const r = await orch(['token', 'manager', '--manager', first], tokens.admin);
  t.equal(r.code, 0, `orch token manager${r.code ? `: ${r.stderr}` : ''}`);
  const hint = commandIn(r.stdout, 'manager');
  t.equal(hint.token, tokens.manager, 'orch token manager shows the manager token in its command');
  t.notOk(hint.args.includes('--peers'), 'and does not tell to use --peers');

  // Run the printed command with its placeholders filled in: the new manager must join.
  const listen = `127.0.0.1:${await freePort()}`;
  const fill: Record<string, string> = { '<manager>': first, '<host:port>': listen, '<dir>': join(c.dir, 'joiner') };
  const args = hint.args.map((a) => fill[a] ?? a);
  t.notOk(args.some((a) => /^<.*>$/.test(a)), `every placeholder is one the test knows (${args.join(' ')})`);
  const log: string[] = [];
  const p = spawn(process.execPath, [ORCH_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ORCH_JOIN_TOKEN: hint.token } });
  p.stdout.on('data', (d: Buffer) => log.push(d.toString()));
  p.stderr.on('data', (d: Buffer) => log.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGTERM');
      await exited;
    }
  });
  const client = c.client({ deadlineMs: 10_000 });
  t.teardown(() => client.close());
  // A manager that refuses the command exits at once: that ends the wait, with its output.
  const refused = exited.then((code) => {
    throw new Error(`the manager started with the printed command exited with ${code}:\n${log.join('')}`);
  });
  await Promise.race([
    refused,
    until(async () => {
      const info = await client.cluster().catch(() => null);
      return info?.managers.some((m) => m.address === listen && m.suffrage === 'voter') ?? false;
    }, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${log.join('')}`);
    }),
  ]);
  refused.catch(() => undefined);
  t.pass(`the manager started with the printed command (${listen}) is a voter`);
});
