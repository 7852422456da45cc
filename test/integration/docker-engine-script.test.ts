// scripts/docker-engine.sh is idempotent: calls at the same time share one engine and one dockerd.
// The engine is shared with the other integration tests running in parallel, so this never stops it
// (scripts/check-docker-engine-stop.sh proves `stop` at the end of CI).
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { promisify } from 'node:util';
import { dockerFor, engineScript, runEngineScript } from '../helpers/docker-engine.js';

const exec = promisify(execFile);
const dir = resolve(process.env.ORCH_DOCKER_DIR || '/tmp/orch-docker');
const pidFile = `${dir}/dockerd.pid`;
const privateHost = `unix://${dir}/docker.sock`;
const externalHost = process.env.DOCKER_HOST?.trim() || undefined;

function readPid(): number | undefined {
  try {
    const n = Number(readFileSync(pidFile, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Live processes whose argv[0] is `name` and whose arguments contain `needle` as a sequence. */
function processes(name: string, needle: string[]): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    } catch {
      continue; // exited meanwhile
    }
    if (argv.length === 0 || basename(argv[0]!) !== name) continue;
    const at = argv.findIndex((a, i) => needle.every((n, k) => argv[i + k] === n));
    if (at >= 0) found.push(Number(entry));
  }
  return found;
}

const dockerdsOfDir = (): number[] => processes('dockerd', ['--data-root', `${dir}/data`]);

if (externalHost) {
  t.test('with DOCKER_HOST set, the script answers with that engine (twice, concurrently)', async (t) => {
    const [a, b] = await Promise.all([runEngineScript(), runEngineScript()]);
    t.equal(a, externalHost, 'first call prints $DOCKER_HOST');
    t.equal(b, externalHost, 'second call prints $DOCKER_HOST');
    t.equal(await dockerFor(a).ping().then(String), 'OK', 'and that engine answers ping');
  });
} else {
  t.test('two concurrent calls of docker-engine.sh leave one dockerd', async (t) => {
    const env = { ...process.env };
    delete env.DOCKER_HOST;
    // Make sure the engine runs (this may start it, or reuse the one CI or another test started).
    const first = await runEngineScript([], env);
    if (first !== privateHost) {
      // A system engine answered on /var/run/docker.sock: the script must use it and start nothing.
      t.equal(first, 'unix:///var/run/docker.sock', 'a non-private engine can only be the system one');
      const [a, b] = await Promise.all([runEngineScript([], env), runEngineScript([], env)]);
      t.same([a, b], [first, first], 'both calls print the system engine');
      t.same(dockerdsOfDir(), [], `no private dockerd was started for ${dir}`);
      return;
    }
    const before = readPid();
    t.ok(before, `pid file ${pidFile} names a pid`);
    t.ok(existsSync(`/proc/${before}`), `dockerd ${before} is alive`);

    const [a, b] = await Promise.all([runEngineScript([], env), runEngineScript([], env)]);
    t.equal(a, privateHost, 'first concurrent call prints the private DOCKER_HOST');
    t.equal(b, privateHost, 'second concurrent call prints the same DOCKER_HOST');

    const after = readPid();
    t.equal(after, before, 'the pid file names the same dockerd before and after');
    t.same(dockerdsOfDir(), [before], `exactly one dockerd uses ${dir}/data, and it is the pid file's`);
    if (!existsSync('/run/containerd/containerd.sock')) {
      const containerds = processes('containerd', ['--config', `${dir}/exec/containerd/containerd.toml`]);
      t.equal(containerds.length, 1, 'and exactly one containerd of its own');
    }
    t.equal(await dockerFor(a).ping().then(String), 'OK', 'the engine answers ping');

    const status = await exec('bash', [engineScript(), 'status'], { env });
    t.match(status.stdout, new RegExp(`^running: dockerd pid ${before}\\b`), 'status reports it running');
  });
}

t.test('an unknown command fails with a one-line reason', async (t) => {
  const err = await exec('bash', [engineScript(), 'frobnicate']).then(
    () => undefined,
    (e: { code?: number; stdout?: string; stderr?: string }) => e,
  );
  t.ok(err, 'exits non-zero');
  t.equal(err?.stdout, '', 'prints nothing on stdout');
  t.match(err?.stderr ?? '', /^docker-engine: error: unknown command 'frobnicate'.*\n$/, 'one line on stderr');
});
