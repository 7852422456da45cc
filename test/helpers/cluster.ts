// Real manager processes on loopback for integration tests, chaos runs and benchmarks: free ports,
// a temporary data dir each, logs to files, kill -9 / SIGSTOP / restart / wipe by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, buildConnector, request } from 'undici';
import type { ManagerStatus } from '../../src/api/cluster.js';
import { OrchClient } from '../../src/client/client.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const ORCH_BIN = join(REPO_ROOT, 'bin', 'orch.js');
/** The environment variables bin/orch sets (or reads) for node. */
export const LAUNCHER_SETTINGS = ['MALLOC_MMAP_THRESHOLD_', 'MALLOC_ARENA_MAX', 'ORCH_HEAP_GROWING_PERCENT', 'ORCH_SEMI_SPACE_MIB'];

/** `env` without the launcher's settings: a plain `node bin/orch.js` start is then a true "before". */
export function withoutLauncherSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !LAUNCHER_SETTINGS.includes(k)));
}

/** The installed command: a shell launcher that execs node on ORCH_BIN with orch's memory settings. */
export const ORCH_LAUNCHER = join(REPO_ROOT, 'bin', 'orch');

/** Ports handed out by this process: the kernel may offer a port again once it is closed. */
const handedOut = new Set<number>();

/** A loopback port nothing listens on now, and never one this process handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: no new port after 100 tries');
}

/** What GET /raft/status answers: a manager's own view. */
export type { ManagerStatus };

export interface ClusterOptions {
  managers?: number;
  heartbeatMs?: number;
  electionMs?: number;
  snapshotEvery?: number;
  keepEntries?: number;
  extraArgs?: string[];
  /**
   * true: a TLS cluster. The first manager creates it and writes its tokens to <dir>/tokens.json;
   * the others join with the manager token; workers with the worker token. Default: --insecure.
   */
  secure?: boolean;
  /**
   * false: start the managers without tap's coverage hooks (inherited through NODE_OPTIONS), which
   * slow a process's start; for tests that time the product itself.
   */
  instrument?: boolean;
  /**
   * Start managers through bin/orch, the installed command (with its memory settings), instead of
   * `node bin/orch.js`: what benchmarks measure, since it is what users run.
   */
  launcher?: boolean;
  /**
   * Called with each manager's data dir before its first start (the dir does not exist yet): a
   * test may create it on a file system of its own (a small tmpfs, to fill it). The test undoes
   * what it did (after stop(true)).
   */
  prepareDataDir?: (dataDir: string, k: number) => void;
  /** Extra environment of manager k's process (test hooks). */
  managerEnv?: (m: ManagerProcess, k: number) => Record<string, string>;
}

/** A child process of the test: its pid while it runs, and a promise of its exit. */
class ChildHandle {
  proc: ChildProcess | null = null;
  exited: Promise<number | null> = Promise.resolve(null);

  get pid(): number {
    if (!this.proc?.pid) throw new Error(`${this.describe()} is not running`);
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  protected describe(): string {
    return 'the process';
  }
}

export class ManagerProcess extends ChildHandle {
  /** Set for a manager that joined at run time: it restarts with --join, not --peers. */
  joinVia?: string;
  /** A joined manager's id, once known (from /raft/status). */
  joinedId?: number;
  constructor(
    readonly address: string,
    readonly dataDir: string,
    readonly logFile: string,
  ) {
    super();
  }

  protected override describe(): string {
    return `manager ${this.address}`;
  }
}

export class WorkerProcess extends ChildHandle {
  constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly logFile: string,
  ) {
    super();
  }

  protected override describe(): string {
    return `worker ${this.name}`;
  }
}

export class ProcessCluster {
  readonly managers: ManagerProcess[] = [];
  /** Managers removed from the cluster (retire()): no longer in `managers`, still stopped at the end. */
  readonly retired: ManagerProcess[] = [];
  readonly workers: WorkerProcess[] = [];
  private constructor(
    readonly dir: string,
    private readonly opts: ClusterOptions,
  ) {}

  static async start(opts: ClusterOptions = {}): Promise<ProcessCluster> {
    const n = opts.managers ?? 3;
    const dir = mkdtempSync(join(tmpdir(), 'orch-cluster-'));
    const c = new ProcessCluster(dir, opts);
    for (let k = 0; k < n; k++) {
      const port = await freePort();
      c.managers.push(new ManagerProcess(`127.0.0.1:${port}`, join(dir, `m${k + 1}`), join(dir, `m${k + 1}.log`)));
      opts.prepareDataDir?.(c.managers[k].dataDir, k);
    }
    c.bootPeers = c.managers.map((m) => m.address);
    try {
      await c.spawnAll();
    } catch (err) {
      // No test holds the cluster yet to stop it: what was started must not outlive the test. (The
      // temp dir stays if a test mounted something in it: prepareDataDir's undoing is the test's.)
      await c.stop(true);
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // a mount point
      }
      throw err;
    }
    return c;
  }

  private async spawnAll(): Promise<void> {
    const n = this.managers.length;
    if (this.opts.secure) {
      // The first manager makes the CA and the tokens; the others need its manager token.
      this.spawn(0, { extra: ['--tokens-file', this.tokensFile] });
      const deadline = Date.now() + 30_000;
      while (!existsSync(this.tokensFile)) {
        if (Date.now() > deadline || !this.managers[0].running) throw new Error(`the first manager wrote no ${this.tokensFile}\n${this.logTails()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      for (let k = 1; k < n; k++) this.spawn(k, { joinToken: this.tokens().manager });
    } else for (let k = 0; k < n; k++) this.spawn(k);
  }

  get tokensFile(): string {
    return join(this.dir, 'tokens.json');
  }

  /** A TLS cluster's tokens, as its first manager wrote them. */
  tokens(): { clusterId: string; caDigest: string; admin: string; readonly: string; worker: string; manager: string } {
    return JSON.parse(readFileSync(this.tokensFile, 'utf8')) as ReturnType<ProcessCluster['tokens']>;
  }

  private bootPeers: string[] = [];

  /** The --peers of the managers the cluster started with (joined managers are not in it). */
  get initialPeers(): string[] {
    return this.bootPeers;
  }

  get addresses(): string[] {
    return this.managers.map((m) => m.address);
  }

  /** Index in this.managers of the manager with Raft id `id` (ids follow the sorted --peers; joined ones are asked). */
  indexOfId(id: number): number {
    const sorted = [...this.initialPeers].sort();
    if (id <= sorted.length) return this.addresses.indexOf(sorted[id - 1]);
    return this.managers.findIndex((m) => m.joinedId === id);
  }

  /**
   * A new manager that joins the running cluster through `via` (--join): it is added to
   * this.managers and started. Returns its index.
   */
  async addManager(via: string): Promise<number> {
    const port = await freePort();
    const k = this.managers.length;
    const n = this.managers.length + this.retired.length + 1;
    this.managers.push(new ManagerProcess(`127.0.0.1:${port}`, join(this.dir, `m${n}`), join(this.dir, `m${n}.log`)));
    this.managers[k].joinVia = via;
    this.spawn(k);
    return k;
  }

  /**
   * Starts (or restarts) manager k; `peers`, `join` and `extra` change its command line for this
   * start only, and `extraArgs` replaces the cluster's extraArgs for it.
   */
  spawn(k: number, override: { peers?: string[]; extra?: string[]; joinToken?: string; extraArgs?: string[] } = {}): void {
    const m = this.managers[k];
    const o = this.opts;
    const args = [
      ORCH_BIN,
      'manager',
      '--listen',
      m.address,
      ...(m.joinVia && !override.peers ? ['--join', m.joinVia] : ['--peers', (override.peers ?? this.initialPeers).join(',')]),
      '--data-dir',
      m.dataDir,
      '--heartbeat-ms',
      String(o.heartbeatMs ?? 100),
      '--election-ms',
      String(o.electionMs ?? 1000),
      '--snapshot-every',
      String(o.snapshotEvery ?? 50000),
      '--keep-entries',
      String(o.keepEntries ?? 5000),
      '--log-level',
      'info',
      ...(o.secure ? [] : ['--insecure']),
      ...(override.extraArgs ?? o.extraArgs ?? []),
      ...(override.extra ?? []),
    ];
    const out = createWriteStream(m.logFile, { flags: 'a' });
    const base = o.instrument === false ? Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.startsWith('_TAPJS_'))) : process.env;
    // Join tokens by environment, as `orch up` passes them: never on a command line.
    const joinToken = override.joinToken ?? (m.joinVia && !override.peers && o.secure ? this.tokens().manager : undefined);
    const withToken = joinToken ? { ...base, ORCH_JOIN_TOKEN: joinToken } : base;
    const env = o.managerEnv ? { ...withToken, ...o.managerEnv(m, k) } : withToken;
    const p = o.launcher
      ? spawn('/bin/sh', [ORCH_LAUNCHER, ...args.slice(1)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, ORCH_NODE: process.execPath } })
      : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: withoutLauncherSettings(env) });
    p.stdout!.pipe(out);
    p.stderr!.pipe(out);
    m.proc = p;
    m.exited = new Promise((resolve) => p.once('exit', (code) => resolve(code)));
  }

  /** Starts (or restarts) a worker process joined to the managers, on the given Docker engine. */
  startWorker(name: string, dockerHost: string, heartbeatMs = 1000, extra: string[] = []): WorkerProcess {
    let w = this.workers.find((x) => x.name === name);
    if (!w) {
      w = new WorkerProcess(name, join(this.dir, `w-${name}`), join(this.dir, `w-${name}.log`));
      this.workers.push(w);
    }
    const out = createWriteStream(w.logFile, { flags: 'a' });
    const security = this.opts.secure ? [] : ['--insecure'];
    const p = spawn(process.execPath, [ORCH_BIN, 'worker', '--join', this.addresses.join(','), '--name', name, '--data-dir', w.dataDir, '--heartbeat-ms', String(heartbeatMs), ...security, ...extra], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DOCKER_HOST: dockerHost, ...(this.opts.secure ? { ORCH_JOIN_TOKEN: this.tokens().worker } : {}) },
    });
    p.stdout!.pipe(out);
    p.stderr!.pipe(out);
    w.proc = p;
    w.exited = new Promise((resolve) => p.once('exit', (code) => resolve(code)));
    return w;
  }

  private tlsAgent: Agent | null = null;

  /** For a TLS cluster: HTTPS trusting its CA (from the first manager's data dir), with the admin token. */
  private api(): { scheme: string; dispatcher?: Agent; headers: Record<string, string>; tlsConnect?: buildConnector.connector; token?: string } {
    if (!this.opts.secure) return { scheme: 'http', headers: {} };
    const ca = readFileSync(join(this.managers[0].dataDir, 'tls', 'ca.pem'), 'utf8');
    const tlsConnect = buildConnector({ ca, checkServerIdentity: () => undefined, timeout: 2_000 });
    this.tlsAgent ??= new Agent({ connect: tlsConnect });
    const token = this.tokens().admin;
    return { scheme: 'https', dispatcher: this.tlsAgent, headers: { authorization: `Bearer ${token}` }, tlsConnect, token };
  }

  /** A client of the cluster (of only `managers` when given: to talk to one manager). */
  client(opts?: { deadlineMs?: number; timeoutMs?: number; token?: string; managers?: string[] }): OrchClient {
    const a = this.api();
    const { managers, ...rest } = opts ?? {};
    return new OrchClient(managers ?? this.addresses, { tlsConnect: a.tlsConnect, token: a.token, ...rest });
  }

  /** One request to manager k as the admin (of a TLS cluster), answered as text; `headers` add to or replace the admin's. */
  async request(k: number, method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE', path: string, o: { headers?: Record<string, string>; body?: unknown } = {}): Promise<{ status: number; text: string }> {
    const a = this.api();
    const res = await request(`${a.scheme}://${this.managers[k].address}${path}`, {
      method,
      dispatcher: a.dispatcher,
      headers: { ...a.headers, ...(o.body === undefined ? {} : { 'content-type': 'application/json' }), ...o.headers },
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    return { status: res.statusCode, text: await res.body.text() };
  }

  /** A gauge or counter of manager k's /metrics (without labels), or NaN when absent. */
  async metric(k: number, name: string): Promise<number> {
    const { text } = await this.request(k, 'GET', '/metrics');
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  }

  async status(k: number): Promise<ManagerStatus | null> {
    try {
      const a = this.api();
      const res = await request(`${a.scheme}://${this.managers[k].address}/raft/status`, { dispatcher: a.dispatcher, headers: a.headers, headersTimeout: 500, bodyTimeout: 500, signal: AbortSignal.timeout(800) });
      if (res.statusCode !== 200) {
        await res.body.dump();
        return null;
      }
      return (await res.body.json()) as ManagerStatus;
    } catch {
      return null;
    }
  }

  /** Polls until exactly one reachable manager leads and the others follow it. */
  async waitForLeader(timeoutMs = 30_000, among?: number[]): Promise<{ index: number; status: ManagerStatus }> {
    const idx = among ?? this.managers.map((_, k) => k).filter((k) => this.managers[k].running);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const st = await Promise.all(idx.map((k) => this.status(k)));
      const leaders = st.map((s, j) => ({ s, k: idx[j] })).filter((x) => x.s?.role === 'leader');
      if (leaders.length === 1) {
        const l = leaders[0].s!;
        if (st.every((s) => s && s.term === l.term && (s.role === 'leader' || s.leader === l.id))) return { index: leaders[0].k, status: l };
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no single leader within ${timeoutMs} ms\n${this.logTails()}`);
  }

  /** Polls until manager k has applied at least `index`. */
  async waitForApplied(k: number, index: number, timeoutMs = 20_000): Promise<ManagerStatus> {
    const deadline = Date.now() + timeoutMs;
    let last: ManagerStatus | null = null;
    while (Date.now() < deadline) {
      last = await this.status(k);
      if (last && last.applied >= index) return last;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`manager ${k} did not apply ${index} within ${timeoutMs} ms (last: ${JSON.stringify(last)})\n${this.logTails()}`);
  }

  kill(k: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    const m = this.managers[k];
    if (!m.running) return m.exited;
    process.kill(m.pid, signal);
    return m.exited;
  }

  signal(k: number, signal: NodeJS.Signals): void {
    process.kill(this.managers[k].pid, signal);
  }

  wipe(k: number): void {
    if (this.managers[k].running) throw new Error('stop the manager before wiping its data dir');
    rmSync(this.managers[k].dataDir, { recursive: true, force: true });
  }

  rssKiB(k: number): number {
    const s = readFileSync(`/proc/${this.managers[k].pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)/.exec(s);
    return m ? Number(m[1]) : 0;
  }

  /** Takes manager k (removed from the cluster, and stopped) out of `managers`; indexes after it shift. */
  retire(k: number): void {
    if (this.managers[k].running) throw new Error('stop the manager before retiring it');
    this.retired.push(...this.managers.splice(k, 1));
  }

  logTails(lines = 15): string {
    return this.managers
      .map((m, k) => {
        const text = existsSync(m.logFile) ? readFileSync(m.logFile, 'utf8').trim().split('\n').slice(-lines).join('\n') : '(no log)';
        return `--- manager ${k} (${m.address}) ---\n${text}`;
      })
      .join('\n');
  }

  /** Stops every manager (SIGTERM, then SIGKILL after a grace) and removes the temp dir. */
  async stop(keep = false): Promise<void> {
    await Promise.all(
      [...this.workers, ...this.managers, ...this.retired].map(async (m) => {
        if (!m.running) return;
        try {
          process.kill(m.pid, 'SIGCONT');
          process.kill(m.pid, 'SIGTERM');
        } catch {
          return;
        }
        const t = setTimeout(() => m.running && process.kill(m.pid, 'SIGKILL'), 5000);
        await m.exited;
        clearTimeout(t);
      }),
    );
    await this.tlsAgent?.close();
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }
}
