// A real Docker engine for integration tests: the one $DOCKER_HOST names, else the private engine that
// scripts/docker-engine.sh starts (or reuses) and whose DOCKER_HOST it prints. The engine is pinged
// before it is handed out; when none can be had, the Error says in one line how to get one.
import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Dockerode = Docker;
export interface Engine {
  docker: Dockerode;
  host: string;
}

/** The test image, built by scripts/docker-engine.sh from busybox-static (nothing is pulled). */
export const TEST_IMAGE = 'orch/busybox:latest';

const HOW = 'run scripts/docker-engine.sh as root, or set DOCKER_HOST to a running engine';
/** apt-get install of docker.io on a fresh machine, plus the engine start and the image build. */
const SCRIPT_TIMEOUT_MS = 240_000;

/** The directory holding package.json, found by walking up from this file (src or build/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'scripts', 'docker-engine.sh'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no Docker engine: cannot find the repo root (package.json) above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

export const engineScript = (): string => join(repoRoot(), 'scripts', 'docker-engine.sh');

/** A dockerode client for a DOCKER_HOST string: unix:///path, tcp://host:port, http(s)://host:port. */
export function dockerFor(host: string): Dockerode {
  if (host.startsWith('unix://')) return new Docker({ socketPath: host.slice('unix://'.length) });
  if (host.startsWith('/')) return new Docker({ socketPath: host });
  const m = /^(tcp|http|https):\/\/([^/:]+|\[[^\]]+\])(?::(\d+))?\/?$/.exec(host);
  if (!m) throw new Error(`no Docker engine: cannot use DOCKER_HOST=${host} (expected unix:///path or tcp://host:port)`);
  const tls = m[1] === 'https' || (process.env.DOCKER_TLS_VERIFY ?? '') !== '';
  const opts: Docker.DockerOptions = {
    host: m[2]!.replace(/^\[|\]$/g, ''),
    port: Number(m[3] ?? (tls ? 2376 : 2375)),
    protocol: tls ? 'https' : 'http',
  };
  const certs = process.env.DOCKER_CERT_PATH;
  if (tls && certs) {
    opts.ca = readFileSync(join(certs, 'ca.pem'));
    opts.cert = readFileSync(join(certs, 'cert.pem'));
    opts.key = readFileSync(join(certs, 'key.pem'));
  }
  return new Docker(opts);
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** Runs scripts/docker-engine.sh (start or reuse) and returns the DOCKER_HOST it prints. */
export function runEngineScript(args: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [engineScript(), ...args], { env, timeout: SCRIPT_TIMEOUT_MS, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const lines = String(stderr).split('\n').map((l) => l.trim()).filter(Boolean);
        const why = [...lines].reverse().find((l) => l.includes('error:')) ?? lines.at(-1) ?? oneLine(err.message);
        reject(new Error(`no Docker engine: ${oneLine(why.replace(/^docker-engine: (error: )?/, ''))} (${HOW})`));
        return;
      }
      const host = String(stdout).split('\n').map((l) => l.trim()).filter(Boolean).at(-1);
      if (!host) reject(new Error(`no Docker engine: scripts/docker-engine.sh printed no DOCKER_HOST (${HOW})`));
      else resolve(host);
    });
  });
}

let cached: Promise<Engine> | undefined;

/** The engine for this test process (shared by every test in it). Rejects with a one-line reason. */
export function dockerEngine(): Promise<Engine> {
  cached ??= connect();
  // A failure is not cached: a later call may succeed (e.g. after the engine was started).
  cached.catch(() => {
    cached = undefined;
  });
  return cached;
}

async function connect(): Promise<Engine> {
  const fromEnv = process.env.DOCKER_HOST?.trim();
  const host = fromEnv ? fromEnv : await runEngineScript();
  const docker = dockerFor(host);
  try {
    await docker.ping();
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`no Docker engine: ${host} does not answer ping (${oneLine(why)}); ${HOW}`);
  }
  if (fromEnv && !(await hasImage(docker, TEST_IMAGE))) {
    // An engine of the user's: the script builds the image there (it pings $DOCKER_HOST, builds, prints it).
    await runEngineScript();
  }
  return { docker, host };
}

async function hasImage(docker: Dockerode, name: string): Promise<boolean> {
  try {
    await docker.getImage(name).inspect();
    return true;
  } catch {
    return false;
  }
}
