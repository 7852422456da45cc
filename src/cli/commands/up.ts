// `orch up` and `orch down`: a whole local cluster in the background, from nothing. Up starts a
// Docker engine when none answers (scripts/docker-engine.sh), the managers (the first creates the
// cluster, the others join with its manager token) and the workers as detached processes with
// logs under <dir>/logs, waits for a leader and ready workers, and writes <dir>/cluster.json,
// which the CLI reads by default. Down stops the services (so their containers go), then exactly
// the processes up started, any container of its nodes left behind, and the engine if up started it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { isTerminal } from '../../api/tasks.js';
import { clientOf, connection, withClient } from '../client.js';
import { intOption } from '../parse.js';
import { ProgressLine } from '../progress.js';
import { hasExited, isOurs, readClusterFile, writeClusterFile, type ClusterFile, type UpProcess } from '../local/cluster-file.js';
import { subjectOfPem } from '../../security/identity.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
// The installed command (a launcher that execs node with orch's memory settings; see bin/orch).
const ORCH_LAUNCHER = join(ROOT, 'bin', 'orch');
const ENGINE = join(ROOT, 'scripts', 'docker-engine.sh');

export interface UpOptions {
  managers: number;
  workers: number;
  dir: string;
  basePort: number;
  log?: (line: string) => void;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const s = createServer();
    s.once('error', () => ok(false));
    s.listen(port, '127.0.0.1', () => s.close(() => ok(true)));
  });
}

async function freePorts(base: number, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let p = base; out.length < n && p < base + 1000; p++) if (await portFree(p)) out.push(p);
  if (out.length < n) throw new Error(`--base-port: no ${n} free ports from ${base}`);
  return out;
}

/** A Docker engine: the one that answers, else a private one the script starts (and down stops). */
function ensureEngine(log: (l: string) => void): { host: string; started: boolean } {
  const wasRunning = spawnSync('bash', [ENGINE, 'status'], { encoding: 'utf8' }).status === 0;
  log(wasRunning || process.env.DOCKER_HOST ? 'using the running Docker engine' : 'no Docker engine answers: starting one (scripts/docker-engine.sh; the first time installs docker.io with apt)');
  const r = spawnSync('bash', [ENGINE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error('could not start a Docker engine (see scripts/docker-engine.sh\'s message above)');
  const host = r.stdout.trim().split('\n').pop()!;
  const nowRunning = spawnSync('bash', [ENGINE, 'status'], { encoding: 'utf8' }).status === 0;
  return { host, started: !wasRunning && nowRunning };
}

function startDetached(args: string[], logFile: string, env: NodeJS.ProcessEnv): number {
  const fd = openSync(logFile, 'a');
  // Through sh, so a checkout that lost the launcher's exec bit still works; exec keeps the pid.
  const p = spawn('/bin/sh', [ORCH_LAUNCHER, ...args], { detached: true, stdio: ['ignore', fd, fd], env: { ...env, ORCH_NODE: process.execPath } });
  p.unref();
  return p.pid!;
}

async function waitFor<T>(what: string, ms: number, f: () => Promise<T | null | false | undefined>, procs: UpProcess[]): Promise<T> {
  const end = Date.now() + ms;
  let last = '';
  while (Date.now() < end) {
    const dead = procs.find(hasExited);
    if (dead) throw new Error(`${dead.name} exited while waiting for ${what}; see ${dead.log}:\n${tail(dead.log)}`);
    try {
      const v = await f();
      if (v) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${what} within ${ms / 1000} s${last ? ` (${last})` : ''}; logs are in the cluster's logs directory`);
}

function tail(file: string, lines = 8): string {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n') : '(no log)';
}

/** Whether the cluster of this file answers (then `up` has nothing to do). */
async function answers(f: ClusterFile): Promise<boolean> {
  if (!f.processes.every(isOurs)) return false;
  try {
    return await withClient({ manager: f.managers.join(','), token: f.token }, async (c) => (await c.cluster()).leader !== null, { deadlineMs: 5_000 });
  } catch {
    return false;
  }
}

export async function up(o: UpOptions): Promise<{ file: ClusterFile; path: string; already: boolean }> {
  const log = o.log ?? ((l: string) => console.error(l));
  if (o.managers < 1 || o.managers > 9) throw new Error(`--managers: expected 1 to 9, got ${o.managers}`);
  if (o.workers < 0 || o.workers > 16) throw new Error(`--workers: expected 0 to 16, got ${o.workers}`);
  const dir = resolve(o.dir);
  const path = join(dir, 'cluster.json');
  const existing = readClusterFile(path);
  if (existing) {
    if (await answers(existing)) return { file: existing, path, already: true };
    if (existing.processes.some(isOurs)) throw new Error(`${path}: the cluster runs only in part; run "orch down" first`);
  }
  mkdirSync(join(dir, 'logs'), { recursive: true, mode: 0o700 });
  const engine = o.workers > 0 ? ensureEngine(log) : { host: process.env.DOCKER_HOST ?? '', started: false };
  const ports = await freePorts(o.basePort, o.managers);
  const managers = ports.map((p) => `127.0.0.1:${p}`);
  const peers = managers.join(',');
  const tokensFile = join(dir, 'tokens.json');
  const procs: UpProcess[] = [];
  // The user's own ORCH_JOIN_TOKEN, if any, is not for these processes: each gets its own below.
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: engine.host };
  delete env.ORCH_JOIN_TOKEN;
  // Join tokens go by environment, never on a command line (which every user can read in ps).
  const withToken = (token: string | undefined): NodeJS.ProcessEnv => (token ? { ...env, ORCH_JOIN_TOKEN: token } : env);
  const startManager = (k: number, extra: string[], token?: string) => {
    const name = `m${k + 1}`;
    const dataDir = join(dir, name);
    const logFile = join(dir, 'logs', `${name}.log`);
    procs.push({ pid: startDetached(['manager', '--listen', managers[k], '--peers', peers, '--data-dir', dataDir, ...extra], logFile, withToken(token)), role: 'manager', name, dataDir, log: logFile });
  };
  // A restart of a stopped cluster (data dirs kept by down) needs no tokens: the TLS files are there.
  const restart = existsSync(join(dir, 'm1', 'tls'));
  if (restart && !existsSync(tokensFile)) throw new Error(`${dir} holds a cluster's data but not its tokens.json; run "orch down --purge" to start afresh`);
  if (restart) {
    const old = readClusterFile(path);
    if (old && old.managers.join(',') !== peers) throw new Error(`${dir}: its managers were at ${old.managers.join(',')}, and those ports are not all free now`);
  }
  startManager(0, restart ? [] : ['--tokens-file', tokensFile]);
  await waitFor('tokens from the first manager', 30_000, async () => existsSync(tokensFile), procs);
  const tokens = JSON.parse(readFileSync(tokensFile, 'utf8')) as { admin: string; readonly: string; worker: string; manager: string };
  for (let k = 1; k < o.managers; k++) startManager(k, [], restart ? undefined : tokens.manager);
  for (let k = 0; k < o.workers; k++) {
    const name = `w${k + 1}`;
    const dataDir = join(dir, name);
    const logFile = join(dir, 'logs', `${name}.log`);
    procs.push({ pid: startDetached(['worker', '--join', peers, '--name', name, '--data-dir', dataDir], logFile, withToken(tokens.worker)), role: 'worker', name, dataDir, log: logFile });
  }
  const file: ClusterFile = { managers, token: tokens.admin, readonlyToken: tokens.readonly, dockerHost: engine.host, engineStarted: engine.started, processes: procs, createdAt: new Date().toISOString() };
  writeClusterFile(path, file);
  // A live line on a terminal, plain lines otherwise (o.log set: the caller shows its own).
  const p = new ProgressLine(o.log !== undefined);
  p.show(`starting ${o.managers} manager(s) and ${o.workers} worker(s)…`);
  const conn = await waitFor('TLS connection to the managers', 30_000, () => connection({ manager: peers, token: tokens.admin }), procs);
  const c = clientOf(conn, { deadlineMs: 5_000 });
  try {
    p.show('managers: electing a leader…');
    await waitFor('leader', 30_000, async () => (await c.cluster()).leader !== null, procs);
    await waitFor(`${o.workers} ready worker(s)`, 60_000, async () => {
      const ready = (await c.nodes()).filter((n) => n.status === 'ready').length;
      p.show(`managers up (leader elected); workers ready: ${ready}/${o.workers}`);
      return ready >= o.workers;
    }, procs);
  } finally {
    p.end();
    await c.close();
  }
  log(`managers up: ${peers}`);
  if (o.workers) log(`workers up: ${procs.filter((x) => x.role === 'worker').map((x) => x.name).join(', ')}`);
  return { file, path, already: false };
}

export async function down(o: { dir: string; purge?: boolean; log?: (l: string) => void }): Promise<void> {
  const log = o.log ?? ((l: string) => console.error(l));
  const dir = resolve(o.dir);
  const path = join(dir, 'cluster.json');
  const f = readClusterFile(path);
  if (!f) throw new Error(`no cluster in ${dir} (no cluster.json): nothing to stop`);
  const alive = f.processes.filter(isOurs);
  // Stop the services first, while the managers and workers run, so the workers remove the containers.
  if (alive.some((p) => p.role === 'manager')) {
    try {
      await withClient(
        { manager: f.managers.join(','), token: f.token },
        async (c) => {
          const services = (await c.services()).filter((s) => s.state === 'active');
          for (const s of services) await c.stopService(s.id);
          if (services.length) log(`stopping ${services.length} service(s)`);
          const end = Date.now() + 20_000;
          while (Date.now() < end && (await c.tasks()).some((t) => t.containerId && !isTerminal(t.state))) await new Promise((r) => setTimeout(r, 200));
        },
        { deadlineMs: 5_000 },
      );
    } catch (err) {
      log(`could not stop the services through the API (${(err as Error).message}); their containers are removed directly`);
    }
  }
  // Workers first (they still reach the managers), then the managers.
  for (const role of ['worker', 'manager'] as const) {
    const procs = alive.filter((p) => p.role === role);
    for (const p of procs) process.kill(p.pid, 'SIGTERM');
    const end = Date.now() + 10_000;
    while (Date.now() < end && procs.some(isOurs)) await new Promise((r) => setTimeout(r, 100));
    for (const p of procs.filter(isOurs)) process.kill(p.pid, 'SIGKILL');
  }
  log(`stopped ${alive.length} process(es)`);
  await removeLeftovers(f, log);
  if (f.engineStarted) {
    spawnSync('bash', [ENGINE, 'stop'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  rmSync(path, { force: true });
  if (o.purge) {
    rmSync(dir, { recursive: true, force: true });
    log(`removed ${dir}`);
  } else log(`data kept in ${dir} ("orch up" starts the same cluster again; "orch down --purge" removes it)`);
}

/** Containers of this cluster's nodes that are still there (a worker killed before it cleaned up). */
async function removeLeftovers(f: ClusterFile, log: (l: string) => void): Promise<void> {
  const ids = nodeIds(f);
  if (!f.dockerHost || ids.size === 0) return;
  const { dockerFromHost } = await import('../../worker/runtime/docker.js');
  const docker = dockerFromHost(f.dockerHost);
  let list;
  try {
    list = await docker.listContainers({ all: true, filters: { label: ['orch.node'] } });
  } catch {
    return; // no engine: nothing left to remove
  }
  const ours = list.filter((c) => ids.has(c.Labels['orch.node']));
  for (const c of ours) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  if (ours.length) log(`removed ${ours.length} container(s) left behind`);
}

/** The node ids of up's workers, from the certificates in their data dirs. */
function nodeIds(f: ClusterFile): Set<string> {
  const out = new Set<string>();
  for (const p of f.processes.filter((x) => x.role === 'worker')) {
    try {
      const s = subjectOfPem(readFileSync(join(p.dataDir, 'tls', 'node.pem'), 'utf8'));
      if (s) out.add(s.cn);
    } catch {
      // no certificate: the worker never joined, so it has no containers
    }
  }
  return out;
}

export function upCommands(program: Command): void {
  program
    .command('up')
    .description('start a whole local cluster in the background (managers, workers, a Docker engine if none answers)')
    .option('--managers <n>', 'how many managers', intOption('--managers', 1), 3)
    .option('--workers <n>', 'how many workers', intOption('--workers', 0), 2)
    .option('--dir <dir>', 'where data, logs and cluster.json go (the CLI reads .orch/cluster.json by default)', '.orch')
    .option('--base-port <port>', 'the managers listen from this port on (the next free ones)', intOption('--base-port', 1024), 7001)
    .action(async (o: { managers: number; workers: number; dir: string; basePort: number }) => {
      const r = await up(o);
      if (r.already) console.log(`the cluster in ${resolve(o.dir)} is already up (managers ${r.file.managers.join(',')}); nothing to do`);
      else {
        console.log(`cluster up: ${o.managers} manager(s) at ${r.file.managers.join(',')}, ${o.workers} worker(s); logs in ${join(resolve(o.dir), 'logs')}`);
        console.log(`${r.path} (mode 0600) holds the managers and the admin token; the CLI reads it from this directory.`);
      }
      console.log(['Try:', '  orch cluster', '  orch nodes', '  orch run orch/busybox:latest --name hello --replicas 3 --network none --wait -- sleep 3600', '  orch list', '  orch events --follow', '  orch down'].join('\n'));
    });
  program
    .command('down')
    .description('stop what "orch up" started: services, workers, managers, and the engine if it started one')
    .option('--dir <dir>', 'the cluster\'s directory', '.orch')
    .option('--purge', 'also delete its data, logs and tokens')
    .action(async (o: { dir: string; purge?: boolean }) => {
      await down(o);
      console.log('cluster down');
    });
}
