// `npm start` and `orch down` from a fresh directory, as a newcomer runs them: the cluster comes
// up (TLS, 3 managers, 2 workers, on the running engine), the example answers on its port, the CLI
// works with no flags from there, `orch up` twice is harmless, and `orch down` leaves no process
// and no container of the cluster behind.
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { ORCH_BIN, REPO_ROOT } from '../helpers/cluster.js';
import { dockerEngine, dockerFor, engineScript, runEngineScript } from '../helpers/docker-engine.js';

function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file, ...args], { cwd, env, timeout: 120_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

/** scripts/docker-engine.sh stop|status: its exit code. */
function engineCmd(cmd: 'stop' | 'status'): Promise<number> {
  return new Promise((resolve) => execFile('bash', [engineScript(), cmd], (err) => resolve(err ? ((err as { code?: number }).code ?? 1) : 0)));
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2].startsWith('Z');

t.test('npm start brings up a cluster whose example answers; orch down leaves nothing behind', async (t) => {
  // On the private engine (CI, and any machine without Docker): stop it first, so that this runs
  // as on a machine with no engine, and `up` must start one (and `down` stop it). Behind a
  // DOCKER_HOST of the user's, `up` uses that engine and must leave it running.
  const engine = await dockerEngine();
  const privateEngine = !process.env.DOCKER_HOST;
  if (privateEngine) t.equal(await engineCmd('stop'), 0, 'the private engine is stopped first');
  t.comment(privateEngine ? 'no engine running: up must start one' : `DOCKER_HOST=${engine.host}: up uses it`);
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (privateEngine) delete env.DOCKER_HOST;
  const cwd = mkdtempSync(join(tmpdir(), 'orch-up-'));
  type File = { managers: string[]; processes: { pid: number }[] };
  const started: { file: File | null } = { file: null };
  t.teardown(async () => {
    if (existsSync(join(cwd, '.orch', 'cluster.json'))) await run(ORCH_BIN, ['down'], cwd, env);
    for (const p of started.file?.processes ?? []) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
    rmSync(cwd, { recursive: true, force: true });
  });
  const start = await run(join(REPO_ROOT, 'build', 'scripts', 'start.js'), [], cwd, env);
  t.equal(start.code, 0, `npm start's script succeeds${start.code ? `: ${start.stderr}` : ''}`);
  t.match(start.stdout, /http:\/\/127\.0\.0\.1:18080\/ answers: orch test image/, 'the example answers on its loopback port');
  const path = join(cwd, '.orch', 'cluster.json');
  t.equal(statSync(path).mode & 0o777, 0o600, 'cluster.json is 0600');
  const file = JSON.parse(readFileSync(path, 'utf8')) as File;
  started.file = file;
  t.equal(file.processes.length, 5, '3 managers and 2 workers started');
  t.equal((file as File & { engineStarted: boolean }).engineStarted, privateEngine, privateEngine ? 'up started the Docker engine' : 'up used the running engine');

  const cluster = await run(ORCH_BIN, ['cluster', '--json'], cwd, env);
  const info = JSON.parse(cluster.stdout) as { leader: number | null; managers: unknown[] };
  t.ok(info.leader !== null && info.managers.length === 3, 'the CLI finds the cluster and its token with no flags');
  const noToken = await run(ORCH_BIN, ['cluster', '--manager', file.managers[0]], '/', env);
  t.not(noToken.code, 0, 'and without the cluster file, no token: refused');

  const again = await run(ORCH_BIN, ['up'], cwd, env);
  t.match(again.stdout, /already up/, 'orch up twice is harmless');
  const same = JSON.parse(readFileSync(path, 'utf8')) as File;
  t.same(same!.processes.map((p) => p.pid), file.processes.map((p) => p.pid), 'and starts nothing new');

  const down = await run(ORCH_BIN, ['down'], cwd, env);
  t.equal(down.code, 0, `orch down succeeds${down.code ? `: ${down.stderr}` : ''}`);
  t.ok(file.processes.every((p) => !alive(p.pid)), 'no process of the cluster is left');
  if (privateEngine) {
    t.equal(await engineCmd('status'), 1, 'down stopped the engine up had started');
    await runEngineScript(); // started again (for the tests after this one): its containers are all still listed
  }
  {
    const left = await dockerFor(engine.host).listContainers({ all: true, filters: { label: ['orch.service=hello-web'] } });
    t.equal(left.length, 0, 'no container of the example is left');
  }
  await t.rejects(request('http://127.0.0.1:18080/', { headersTimeout: 1_000 }).then((r) => r.body.text()), 'the example no longer answers');
  t.notOk(existsSync(path), 'cluster.json is gone; the data stays for the next up');
});
