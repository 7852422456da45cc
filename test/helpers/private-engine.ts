// A Docker engine of the test's own, for tests that kill dockerd: never the shared one. It is
// scripts/docker-engine.sh with its own directory (socket, data-root, exec-root, pid file, log),
// --live-restore (containers outlive dockerd), and no bridge or iptables of its own (the machine-wide
// docker0 and iptables chains belong to the shared engine). The script builds orch/busybox in it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerFor, runEngineScript, type Dockerode } from './docker-engine.js';

export interface PrivateEngine {
  dir: string;
  host: string;
  docker: Dockerode;
  /** SIGKILL to this engine's dockerd (checked by its command line), resolving once it is gone. */
  kill(): Promise<void>;
  /** Starts dockerd again on the same directory (its containerd and containers still run). */
  restart(): Promise<void>;
}

/**
 * Until it is reaped: dockerd takes a zombie containerd (its pid file's process answers kill 0) for
 * a live one, tries to reuse it, and gives up after a timeout. This machine's init reaps lazily.
 */
function exists(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

export async function privateEngine(t: { teardown(f: () => unknown): void }): Promise<PrivateEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'orch-own-docker-'));
  const env: NodeJS.ProcessEnv = { ...process.env, ORCH_DOCKER_DIR: dir, ORCH_DOCKERD_ARGS: '--bridge=none --iptables=false --live-restore' };
  // With DOCKER_HOST set the script would use that engine (the shared one) instead of starting ours.
  delete env.DOCKER_HOST;
  const expected = `unix://${join(dir, 'docker.sock')}`;
  const start = async () => {
    const host = await runEngineScript(['start'], env);
    if (host !== expected) throw new Error(`scripts/docker-engine.sh gave ${host}, not the private engine ${expected}`);
  };
  t.teardown(async () => {
    // stop ends our dockerd, its containerd and shims, the containers a killed dockerd left, and mounts.
    await runEngineScript(['stop'], env).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  return {
    dir,
    host: expected,
    docker: dockerFor(expected),
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
      const end = Date.now() + 30_000;
      while (exists(pid) || (containerd > 0 && exists(containerd))) {
        if (Date.now() > end) throw new Error(`dockerd ${pid} or its containerd ${containerd} is still there (not reaped) 30 s after SIGKILL`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    restart: start,
  };
}
