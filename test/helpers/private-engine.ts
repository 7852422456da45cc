// A Docker engine of the test's own, for tests that kill dockerd: never the shared one. Its socket,
// data-root, exec-root, pid file and log live in one temp dir; --live-restore lets containers outlive
// dockerd. It runs in a network namespace of its own (unshare --net): dockerd started with
// --bridge=none DELETES the host's docker0 (libnetwork's removeDefaultBridgeInterface), which is the
// shared engine's bridge, and the tests need no network from it (containers use network none; the
// worker talks to it over its unix socket). scripts/docker-engine.sh builds orch/busybox in it, and
// `stop` ends it, its containerd and shims, and unmounts what is left.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerFor, runEngineScript, type Dockerode } from './docker-engine.js';

export interface PrivateEngine {
  dir: string;
  host: string;
  docker: Dockerode;
  /** SIGKILL to this engine's dockerd (checked by its command line), resolving once it is gone. */
  kill(): Promise<void>;
  /** Starts dockerd again on the same directory (the containers' shims still run). */
  restart(): Promise<void>;
}

/**
 * Until it is reaped: dockerd takes a zombie containerd (its pid file's process answers kill 0) for
 * a live one, tries to reuse it, and gives up after a timeout. This machine's init reaps lazily.
 */
function exists(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`${what} within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function privateEngine(t: { teardown(f: () => unknown): void }): Promise<PrivateEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'orch-own-docker-'));
  const host = `unix://${join(dir, 'docker.sock')}`;
  const docker = dockerFor(host);
  const dockerd = ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find((p) => existsSync(p)) ?? 'dockerd';
  const args = [
    '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '-H', host, '--pidfile', join(dir, 'dockerd.pid'),
    '--exec-opt', 'native.cgroupdriver=cgroupfs',
    '--storage-driver', /\boverlay\b/.test(readFileSync('/proc/filesystems', 'utf8')) ? 'overlay2' : 'vfs',
    '--bridge=none', '--iptables=false', '--ip-masq=false', '--live-restore',
  ];
  // The script's env: ORCH_DOCKER_DIR makes `stop` find exactly this engine.
  const env: NodeJS.ProcessEnv = { ...process.env, ORCH_DOCKER_DIR: dir };
  delete env.DOCKER_HOST;
  const start = async () => {
    const log = openSync(join(dir, 'dockerd.log'), 'a');
    // unshare execs dockerd (same pid, argv0 dockerd); setsid (detached) keeps it out of our group.
    const p = spawn('unshare', ['--net', '--', dockerd, ...args], { detached: true, stdio: ['ignore', log, log], env: { ...env, PATH: `/usr/sbin:/usr/bin:/sbin:/bin:${env.PATH ?? ''}` } });
    closeSync(log);
    p.unref();
    let exited = false;
    p.once('exit', () => (exited = true));
    await waitFor(`dockerd of ${dir} answered no ping (log ${dir}/dockerd.log)`, async () => {
      if (exited) throw new Error(`dockerd of ${dir} exited: ${readFileSync(join(dir, 'dockerd.log'), 'utf8').trim().split('\n').slice(-3).join(' | ')}`);
      return docker.ping().then(() => true, () => false);
    }, 60_000);
  };
  t.teardown(async () => {
    await runEngineScript(['stop'], env).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  // With DOCKER_HOST set the script only builds the test image there (from busybox-static).
  await runEngineScript(['start'], { ...env, DOCKER_HOST: host });
  return {
    dir,
    host,
    docker,
    async kill() {
      const pid = Number(readFileSync(join(dir, 'dockerd.pid'), 'utf8').trim());
      const cmd = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0') : [];
      if (!cmd[0]?.endsWith('dockerd') || cmd[cmd.indexOf('--data-root') + 1] !== join(dir, 'data')) {
        throw new Error(`pid ${pid} from ${dir}/dockerd.pid is not this test's dockerd (${cmd.join(' ')})`);
      }
      // dockerd's containerd dies with it (its parent-death signal); the containers' shims stay.
      const containerdPidFile = join(dir, 'exec', 'containerd', 'containerd.pid');
      const containerd = existsSync(containerdPidFile) ? Number(readFileSync(containerdPidFile, 'utf8').trim()) : 0;
      process.kill(pid, 'SIGKILL');
      await waitFor(`dockerd ${pid} or its containerd ${containerd} is still there (not reaped) after SIGKILL`, () => !exists(pid) && !(containerd > 0 && exists(containerd)), 30_000);
    },
    restart: start,
  };
}
