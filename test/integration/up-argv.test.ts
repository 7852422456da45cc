// `orch up` keeps secrets off command lines: every process it starts (the managers, the workers)
// has a command line that every user of the machine can read (/proc/<pid>/cmdline, ps), so none
// may carry a token, whole or its secret half. They get their join token by environment instead.
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ORCH_BIN, freePort } from '../helpers/cluster.js';
import { dockerEngine } from '../helpers/docker-engine.js';
import { parseToken } from '../../src/security/tokens.js';

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ORCH_BIN, ...args], { cwd, env, timeout: 150_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2].startsWith('Z');

t.test('orch up starts no process with a token on its command line', async (t) => {
  // The running engine, by DOCKER_HOST: up uses it and down leaves it running.
  const engine = await dockerEngine();
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: engine.host };
  delete env.ORCH_TOKEN;
  const cwd = mkdtempSync(join(tmpdir(), 'orch-up-argv-'));
  let pids: number[] = [];
  t.teardown(async () => {
    if (existsSync(join(cwd, '.orch', 'cluster.json'))) await run(['down', '--purge'], cwd, env);
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(cwd, { recursive: true, force: true });
  });
  const up = await run(['up', '--managers', '3', '--workers', '1', '--base-port', String(await freePort())], cwd, env);
  t.equal(up.code, 0, `orch up succeeds${up.code ? `: ${up.stderr}` : ''}`);
  const file = JSON.parse(readFileSync(join(cwd, '.orch', 'cluster.json'), 'utf8')) as { processes: { pid: number; role: string; name: string }[] };
  pids = file.processes.map((p) => p.pid);
  t.equal(file.processes.length, 4, '3 managers and a worker started');
  const tokens = JSON.parse(readFileSync(join(cwd, '.orch', 'tokens.json'), 'utf8')) as Record<'admin' | 'readonly' | 'worker' | 'manager', string>;
  const secrets = (['admin', 'readonly', 'worker', 'manager'] as const).map((k) => tokens[k]).flatMap((x) => [x, parseToken('tokens.json', x).secret]);
  for (const p of file.processes) {
    const argv = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0');
    t.ok(argv.includes(p.role), `${p.name}: pid ${p.pid} is the ${p.role} up started`);
    t.notOk(argv.some((a) => a === '--token'), `${p.name}: no --token on its command line`);
    t.notOk(secrets.some((s) => argv.some((a) => a.includes(s))), `${p.name}: no token or token secret on its command line`);
  }
  const down = await run(['down', '--purge'], cwd, env);
  t.equal(down.code, 0, `orch down succeeds${down.code ? `: ${down.stderr}` : ''}`);
});
