// The manager process: a Raft replica (LevelDB log, HTTP transport) with the replicated state and
// the public API on one port. Managers are numbered by their address's position in the sorted
// --peers list, so every manager derives the same ids from the same list.
import { createHash } from 'node:crypto';
import { chmodSync, renameSync, writeFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { HttpTransport, RaftNode, RaftStorage, raftRoutes, type NodeId } from '../raft/index.js';
import { NetworkFaults } from '../raft/faults.js';
import { chaosRoutes } from './api/chaos.js';
import { parseAddress } from './address.js';
import { clusterRoutes } from './api/cluster.js';
import { installErrorHandler } from './api/errors.js';
import { installValidation } from './api/validation.js';
import { installResponseCheck } from './api/response-check.js';
import { installAuth } from './api/auth.js';
import { DEFAULT_EVENT_LIMITS, eventRoutes } from './api/events.js';
import { DEFAULT_WRITE_LIMITS, installWriteLimits } from './api/rate-limit.js';
import { DEFAULT_SERVER_TIMEOUTS, timeoutOptions } from '../security/server-timeouts.js';
import { installIdempotencyKeyCheck } from './api/idempotency.js';
import { uiRoutes } from './api/ui.js';
import { installRequestTiming, ManagerMetrics, metricsRoutes } from './metrics.js';
import { joinRoutes } from './api/join.js';
import { tokenRoutes } from './api/tokens.js';
import { nodeRemovalRoutes } from './api/node-removal.js';
import type { ManagerTls } from './tls-bootstrap.js';
import { hasLocalTls } from '../security/local-store.js';
import { makePrivateDataDir } from '../security/data-dir.js';
import { testHooksFromEnv } from './test-hooks.js';
import { kvRoutes } from './api/kv.js';
import { serviceRoutes } from './api/services.js';
import { Reconciler } from './reconciler.js';
import type { Strategy } from '../scheduler/index.js';
import { Liveness } from './liveness.js';
import { workerRoutes } from './api/workers.js';
import { joinCluster } from './join-cluster.js';
import type { ManagerContext } from './context.js';
import { ManagerState, type Envelope } from './state/machine.js';
import { DEFAULT_HEAP_TRIM, HeapTrimmer, loadFullGc } from './heap-trim.js';

export interface ManagerOptions {
  listen: string;
  /** Every manager of a new cluster (this one included); empty with `join`. */
  peers: string[];
  /** Join a running cluster through these managers (comma-separated), as a learner first. */
  join?: string;
  dataDir: string;
  advertise?: string;
  heartbeatMs?: number;
  electionMs?: number;
  snapshotEvery?: number;
  keepEntries?: number;
  /** Heap trim (heap-trim.ts): no full collection below this many MiB of used heap; 0 turns it off. */
  heapTrimMib?: number;
  logLevel?: string;
  /** The workers' heartbeat period; a node missing `workerMissed` of them is down. */
  workerHeartbeatMs?: number;
  workerMissed?: number;
  /** The cluster's placement strategy; a service's spec may choose another. */
  scheduler?: Strategy;
  /** Fault injection for the chaos suite (PUT /chaos/faults); never for production. */
  chaos?: boolean;
  /**
   * Quorum lost for good: start this survivor as a new one-manager cluster from its own log (its
   * --peers must name only itself). Refused on a data dir with no cluster data.
   */
  forceNewCluster?: boolean;
  /** Let specs ask for privileged mode, extra capabilities and host paths. */
  allowPrivileged?: boolean;
  /** Plain HTTP and no authentication, on loopback only: for development and tests. */
  insecure?: boolean;
  /** The manager join token, to join an existing TLS cluster on first start. */
  token?: string;
  /** A new cluster writes its tokens here (mode 0600) besides printing them once. */
  tokensFile?: string;
  /** Lifetime of the node certificates this manager signs (default 90 days). */
  certTtlMs?: number;
  /** Where a new cluster's tokens are shown once (default: standard output). */
  announce?: (text: string) => void;
  /** This manager was removed from the cluster; it has stopped participating. */
  onRemoved?: () => void;
  /** Event streams this manager serves at once (default 256). */
  maxEventSubscribers?: number;
  /** Bytes an event stream's client may leave unread before further events wait in the log for it (default 1 MiB). */
  eventBufferBytes?: number;
  /** Writes a second one API token may make through this manager (default 10,000; 0: no limit). */
  rateLimitToken?: number;
  /** Writes a second one worker node may make through this manager (default 100; 0: no limit). */
  rateLimitNode?: number;
  /** A request (headers and body) must arrive within this many ms (default 30 s). */
  requestTimeoutMs?: number;
  /** A node `down` for this many ms is removed from the state by the leader (default 24 h; 0: never). */
  nodeRemoveAfterMs?: number;
  /**
   * A disk write failed or the state machine threw: the manager has logged one line naming the
   * error and stopped serving (fail-stop); the process should exit non-zero now, so that clients,
   * workers and a supervisor see it gone. Without it the manager just stays stopped.
   */
  onFatal?: (err: Error) => void;
}

/** How long a fail-stop may spend closing connections before the owner is told regardless. */
const FAIL_STOP_MS = 2000;

/**
 * Every `everyMs`, on the ready leader: when `due()` returns a command, proposes it (one at a time).
 * A proposal that fails (leadership lost, not committed) is simply offered again, by this leader or
 * the next: the commands are idempotent by their ids.
 */
function leaderDuty(ctx: ManagerContext, everyMs: number, due: () => Envelope | null, done: () => void = () => undefined): () => void {
  return leaderLoop(ctx, everyMs, () => {
    const cmd = due();
    return cmd ? ctx.node.propose(ManagerState.encode(cmd)).then(done) : null;
  });
}

/** Every `everyMs`, on the ready leader: runs the proposal `next()` returns, one at a time; failures are retried by the next tick. */
function leaderLoop(ctx: ManagerContext, everyMs: number, next: () => Promise<unknown> | null): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy || !ctx.node.isReadyLeader()) return;
    const p = next();
    if (!p) return;
    busy = true;
    p.catch(() => undefined).finally(() => (busy = false));
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** A leader writes leader.elected once per term, so the event stream shows leader changes in log order. */
function announceLeadership(ctx: ManagerContext, address: string): () => void {
  return leaderDuty(ctx, 50, () => {
    const term = ctx.node.term();
    return ctx.state.announced.term >= term ? null : { op: 'leader.elected', ts: Date.now(), leader: ctx.self, term, address, id: `leader.${term}.${ctx.self}` };
  });
}

/** A node down for a day is removed from the state (its certificate with it): it joins again as a new node. */
const DEFAULT_NODE_REMOVE_AFTER_MS = 86_400_000;

/**
 * The first leader of a cluster seeds its settings from its own flags (settings.init; later inits,
 * from any manager's flags, are ignored): from then on the policy is the cluster's, whoever leads.
 * The id is a manager's own, outside the namespace of clients' keys (see api/idempotency.ts).
 */
function seedSettings(ctx: ManagerContext, log: (m: string) => void): () => void {
  return leaderDuty(
    ctx,
    200,
    () => (ctx.state.settings.settings ? null : { op: 'settings.init', ts: Date.now(), settings: { allowPrivileged: ctx.allowPrivileged === true, allowHostNetwork: true }, id: 'settings.init' }),
    () => log(`the cluster's settings are in the replicated state: ${JSON.stringify(ctx.state.settings.settings)}`),
  );
}

/** Certificates live 90 days, as Swarm's. */
const DEFAULT_CERT_TTL_MS = 90 * 86_400_000;

/**
 * A TLS cluster's background duties: the first leader writes the cluster's secrets into the
 * replicated state (security.init; later inits are ignored), and the certificate is renewed.
 */
function startSecurityDuties(ctx: ManagerContext, mtls: ManagerTls, stopRenewal: () => void, log: (m: string) => void): () => void {
  const stopInit = leaderDuty(
    ctx,
    200,
    () => (ctx.state.security.secrets ? null : { op: 'security.init', ts: Date.now(), secrets: mtls.local, id: `security.init.${mtls.local.clusterId}` }),
    () => log('the cluster\'s CA and tokens are in the replicated state'),
  );
  return () => {
    stopInit();
    stopRenewal();
  };
}

export interface Manager {
  id: NodeId;
  app: FastifyInstance;
  node: RaftNode;
  state: ManagerState;
  storage: RaftStorage;
  /** Graceful stop: a leader hands leadership over first. */
  stop(): Promise<void>;
}

export function validateManagerOptions(o: ManagerOptions): { self: string; peers: string[]; id: NodeId; clusterId: string } {
  parseAddress('--listen', o.listen);
  const self = o.advertise ?? o.listen;
  if (o.advertise) parseAddress('--advertise', o.advertise);
  const peers = [...new Set(o.peers.map((p) => p.trim()).filter(Boolean))];
  if (o.join !== undefined) {
    if (peers.length > 0) throw new Error('--join and --peers: give one; --peers starts a new cluster, --join joins a running one');
    const via = o.join.split(',').map((a) => a.trim()).filter(Boolean);
    if (via.length === 0) throw new Error('--join: give the address of a manager of the running cluster, e.g. 127.0.0.1:7001');
    for (const a of via) parseAddress('--join', a);
    if (o.forceNewCluster) throw new Error('--force-new-cluster and --join: a forced cluster starts from --peers');
    if (via.includes(self)) throw new Error(`--join: ${self} is this manager's own address; give another manager's`);
  } else if (peers.length === 0) throw new Error('--peers: give the addresses of all managers, e.g. 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 (or --join to join a running cluster)');
  for (const p of peers) parseAddress('--peers', p);
  peers.sort();
  const k = peers.indexOf(self);
  if (k < 0 && o.join === undefined) throw new Error(`--peers: this manager's address ${self} is not in the list (${peers.join(',')}); use --advertise if it differs from --listen`);
  for (const [flag, v, lo] of [
    ['--heartbeat-ms', o.heartbeatMs, 1],
    ['--election-ms', o.electionMs, 2],
    ['--snapshot-every', o.snapshotEvery, 1],
    ['--keep-entries', o.keepEntries, 0],
    ['--heap-trim-mib', o.heapTrimMib, 0],
    ['--max-event-subscribers', o.maxEventSubscribers, 1],
    ['--event-buffer (bytes)', o.eventBufferBytes, 65_536],
    ['--rate-limit-token', o.rateLimitToken, 0],
    ['--rate-limit-node', o.rateLimitNode, 0],
    ['--request-timeout (ms)', o.requestTimeoutMs, 100],
    ['--node-remove-after (ms)', o.nodeRemoveAfterMs, 0],
  ] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < lo)) throw new Error(`${flag}: expected an integer >= ${lo}, got ${v}`);
  }
  if (o.scheduler !== undefined && !['spread', 'binpack', 'epvm', 'round-robin'].includes(o.scheduler)) {
    throw new Error(`--scheduler: expected spread, binpack, epvm or round-robin, got ${JSON.stringify(o.scheduler)}`);
  }
  if (o.certTtlMs !== undefined && (!Number.isSafeInteger(o.certTtlMs) || o.certTtlMs < 1000)) throw new Error(`--cert-ttl-ms: expected an integer >= 1000, got ${o.certTtlMs}`);
  if (o.insecure) {
    for (const [flag, a] of [['--listen', o.listen], ['--advertise', self], ...peers.map((p) => ['--peers', p] as const)] as const) {
      if (!isLoopback(parseAddress(flag, a).host)) throw new Error(`${flag}: ${a} is not a loopback address; --insecure (plain HTTP, no authentication) is for loopback only`);
    }
    if (o.token) throw new Error('--token: a token joins a TLS cluster; drop --insecure, or drop --token');
    if (o.join !== undefined) for (const a of o.join.split(',').filter(Boolean)) if (!isLoopback(parseAddress('--join', a.trim()).host)) throw new Error(`--join: ${a} is not a loopback address; --insecure is for loopback only`);
  }
  if ((o.electionMs ?? 1000) <= (o.heartbeatMs ?? 100)) throw new Error(`--election-ms (${o.electionMs ?? 1000}) must be larger than --heartbeat-ms (${o.heartbeatMs ?? 100})`);
  const clusterId = createHash('sha256').update(peers.join(',')).digest('hex').slice(0, 16);
  return { self, peers, id: k + 1, clusterId };
}

/**
 * --force-new-cluster: checks that this data dir holds a cluster's log and that --peers names only
 * this manager, then rewrites the identity to the new one-manager cluster. Raft then starts with
 * this manager as the only voter (over the snapshot's voter set); every entry in its log commits
 * under its first term as leader, as etcd's --force-new-cluster does.
 */
async function forceNewCluster(o: ManagerOptions, storage: RaftStorage, known: Awaited<ReturnType<RaftStorage['identity']>>, next: { id: NodeId; address: string; clusterId: string }, peers: string[]): Promise<void> {
  const refuse = async (why: string) => {
    await storage.close();
    throw new Error(`--force-new-cluster: ${why}`);
  };
  if (peers.length !== 1) await refuse(`--peers must name only this manager (${next.address}): the new cluster starts with one manager; add others later`);
  const loaded = await storage.load();
  if (!known || loaded.empty) await refuse(`data dir ${o.dataDir} holds no cluster data; it must be the data dir of a surviving manager`);
  await storage.setIdentity(next);
  console.error(
    `orch manager: WARNING: forcing a new one-manager cluster ${next.clusterId} from the log of manager ${known!.id} (${known!.address}) of cluster ${known!.clusterId}; never start the other managers again with their old data`,
  );
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Shows a new cluster's tokens once (and writes them to --tokens-file, 0600, when given). */
function announceNewCluster(o: ManagerOptions, t: NonNullable<ManagerTls['created']>, clusterId: string): void {
  if (o.tokensFile) {
    // Whole or not at all: whoever waits for the file (a script, `orch up`) never reads half of it.
    const tmp = `${o.tokensFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ clusterId, caDigest: t.caDigest, admin: t.admin, readonly: t.readonly, worker: t.worker, manager: t.manager }, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, o.tokensFile);
  }
  (o.announce ?? ((text: string) => process.stdout.write(text)))(
    [
      `orch: created cluster ${clusterId}. These API tokens are shown only this once; keep them${o.tokensFile ? ` (also written to ${o.tokensFile}, mode 0600)` : ''}:`,
      `  admin token:      ${t.admin}`,
      `  read-only token:  ${t.readonly}`,
      `Join tokens (also shown by "orch token worker|manager"):`,
      `  workers:  ORCH_JOIN_TOKEN=${t.worker} orch worker --join ${o.advertise ?? o.listen} --name <name> --data-dir <dir>`,
      `  managers: ORCH_JOIN_TOKEN=${t.manager} orch manager --join ${o.advertise ?? o.listen} --listen <host:port> --data-dir <dir>`,
      '',
    ].join('\n'),
  );
}

export async function startManager(o: ManagerOptions): Promise<Manager> {
  const v = validateManagerOptions(o);
  const { self, peers } = v;
  let { id, clusterId } = v;
  const listen = parseAddress('--listen', o.listen);
  makePrivateDataDir(o.dataDir);
  const hooks = testHooksFromEnv();
  const storage = await RaftStorage.open(o.dataDir, { testHookBeforeWrite: hooks.beforeWrite });
  const known = await storage.identity();
  // The managers this one knows of at start: --peers, or what the cluster said when it joined.
  let base = new Map<NodeId, string>(peers.map((p, k) => [k + 1, p]));
  if (o.join !== undefined) {
    try {
      if (known) {
        if (!known.joined) throw new Error(`--join: data dir ${o.dataDir} belongs to manager ${known.id} of cluster ${known.clusterId}, started with --peers; start it with --peers`);
        if (known.address !== self) throw new Error(`--join: data dir ${o.dataDir} belongs to manager ${known.id} at ${known.address}, not ${self}`);
      }
    } catch (err) {
      await storage.close();
      throw err;
    }
  } else if (known?.joined) {
    await storage.close();
    throw new Error(`data dir ${o.dataDir} belongs to manager ${known.id}, which joined cluster ${known.clusterId} at run time; start it with --join`);
  } else if (o.forceNewCluster) await forceNewCluster(o, storage, known, { id, address: self, clusterId }, peers);
  else if (known && (known.id !== id || known.address !== self || known.clusterId !== clusterId)) {
    await storage.close();
    throw new Error(
      `data dir ${o.dataDir} belongs to manager ${known.id} at ${known.address} of cluster ${known.clusterId}, not manager ${id} at ${self} of cluster ${clusterId} (check --listen/--peers, or use another --data-dir)`,
    );
  }
  const note = (m: string) => console.error(`${new Date().toISOString()} orch manager ${self}: ${m}`);
  const certTtlMs = o.certTtlMs ?? DEFAULT_CERT_TTL_MS;
  // The X.509 library is loaded only for a TLS cluster.
  const bootstrap = o.insecure ? null : await import('./tls-bootstrap.js');
  let mtls: ManagerTls | null = null;
  try {
    if (o.insecure) {
      if (hasLocalTls(o.dataDir)) throw new Error(`--insecure: data dir ${o.dataDir} belongs to a TLS cluster (it has ${o.dataDir}/tls); start it without --insecure`);
    } else {
      if (o.join !== undefined && !o.token && !hasLocalTls(o.dataDir)) throw new Error('--join: joining a TLS cluster needs the manager join token (--token, see "orch token manager")');
      // A joining manager gets its certificate through the managers it was told to join through.
      const via = o.join !== undefined ? o.join.split(',').map((a) => a.trim()).filter(Boolean) : peers;
      mtls = await bootstrap!.bootstrapManagerTls({ dataDir: o.dataDir, self, peers: via, token: o.token, certTtlMs, hasRaftData: known !== null, log: note });
    }
  } catch (err) {
    await storage.close();
    throw err;
  }
  if (o.join !== undefined) {
    // A joining manager of a TLS cluster has its certificate by now (--token): it asks over mTLS.
    try {
      // The addresses to join through are the user's: any manager of the cluster will do there.
      const ident = known ?? (await joinCluster(o.join, self, mtls ? { url: (a, p) => `https://${a}${p}`, dispatcher: mtls.tls.agentFor({ role: 'manager' }) } : undefined));
      id = ident.id;
      clusterId = ident.clusterId;
      base = new Map(Object.entries(ident.joined ?? {}).map(([k, a]) => [Number(k), a]));
      if (!known) await storage.setIdentity(ident);
    } catch (err) {
      await storage.close();
      await mtls?.tls.close();
      throw err;
    }
  }
  if (!known && !o.forceNewCluster && o.join === undefined) await storage.setIdentity({ id, address: self, clusterId });

  // The address book follows the replicated state (managers added and removed at run time).
  const addresses = new Map<NodeId, string>(base);
  base.set(id, self);
  addresses.set(id, self);
  // Request logging stays off: the Raft transport alone makes tens of requests a second.
  const timeouts = { ...DEFAULT_SERVER_TIMEOUTS, ...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}) };
  const app = Fastify({ logger: { level: o.logLevel ?? 'info' }, logController: new LogController({ disableRequestLogging: true }), bodyLimit: 2 << 20, ...timeoutOptions(timeouts, mtls?.tls.serverOptions()) });
  if (mtls) {
    const t = mtls.tls;
    t.onChange(() => (app.server as unknown as { setSecureContext(o: object): void }).setSecureContext(t.serverOptions()));
  }
  const state = new ManagerState();
  let stopping: Promise<void> | null = null;
  let fatal: Error | null = null;
  let started = false;
  const beforeApply = hooks.beforeApply;
  let metrics: ManagerMetrics | null = null;
  let heapTrimmer: HeapTrimmer | null = null;
  let transport: HttpTransport | null = null;
  const peerIds = new Set(addresses.keys());
  state.onMembershipChange = () => {
    const next = state.membership.addresses(base);
    next.set(id, self);
    if (next.size === addresses.size && [...next].every(([k, a]) => addresses.get(k) === a)) return;
    addresses.clear();
    peerIds.clear();
    for (const [k, a] of next) {
      addresses.set(k, a);
      peerIds.add(k);
    }
    transport?.setPeers(addresses);
  };
  const node = new RaftNode({
    id,
    // A joining manager knows no configuration: it learns it from the leader's log or snapshot.
    conf: o.join !== undefined ? { voters: [], learners: [] } : { voters: [...addresses.keys()], learners: [] },
    forceConf: o.forceNewCluster === true,
    storage,
    sm: beforeApply
      ? {
          apply: (e) => (beforeApply(), state.apply(e)),
          snapshot: () => state.snapshot(),
          restore: (d) => state.restore(d),
        }
      : state,
    heartbeatMs: o.heartbeatMs ?? 100,
    electionMs: o.electionMs ?? 1000,
    snapshotEvery: o.snapshotEvery ?? 50_000,
    keepEntries: o.keepEntries ?? 5_000,
    // Bound below, once the metrics exist (they read the node).
    observe: {
      commitMs: (ms) => metrics?.commitMs(ms),
      saveMs: (ms) => metrics?.saveMs(ms),
      snapshotBytes: (b) => metrics?.snapshotBytes(b),
      // Saved, and its bytes out of memory: encoding it left its own copy of the state as garbage.
      snapshotSaved: () => heapTrimmer?.check(true),
    },
    onRoleChange: (role, term, leader) => app.log.info({ role, term, leader }, `manager ${id} is ${role} in term ${term}${leader ? `, leader ${leader}` : ''}`),
    onFatal: (err) => {
      if (fatal) return;
      fatal = err;
      note(`FATAL: ${err.message.replace(/\s*\n\s*/g, ' ')}; this manager stops serving and exits so that the other managers take over`);
      // During start-up, once the start is complete (below): then everything there is to stop exists.
      if (started) stopAfterFatal(err);
    },
  });
  if (hooks.armed.length) note(`WARNING: test hooks armed (${hooks.armed.join(', ')}): for tests only, never in production`);
  const faults = o.chaos ? new NetworkFaults() : undefined;
  transport = new HttpTransport(
    id,
    addresses,
    {
      unreachable: (to) => node.reportUnreachable(to),
      snapshotDone: (to, ok) => node.reportSnapshot(to, ok),
      snapshotUnreadable: (index, err) => app.log.warn(`the snapshot at index ${index} could not be read back to send to a follower: ${err.message}`),
      receive: (msgs) => node.receive(msgs),
    },
    { timeoutMs: Math.max(500, o.electionMs ?? 1000), clusterId, faults, tlsConnectTo: mtls ? (address) => mtls!.tls.connector({ role: 'manager', cn: address }, Math.max(500, o.electionMs ?? 1000)) : undefined },
  );
  const local = mtls?.local;
  const ctx: ManagerContext = {
    node,
    state,
    addresses,
    self: id,
    allowPrivileged: o.allowPrivileged === true,
    net: mtls
      ? { url: (a, p) => `https://${a}${p}`, manager: (a) => mtls!.tls.agentFor({ role: 'manager', cn: a }), worker: (n) => mtls!.tls.agentFor({ role: 'worker', cn: n }) }
      : { url: (a, p) => `http://${a}${p}`, manager: () => undefined, worker: () => undefined },
    security: mtls ? { tls: mtls.tls, secrets: () => state.security.secrets ?? local!, certTtlMs } : undefined,
  };
  installErrorHandler(app);
  installValidation(app);
  if (hooks.checkResponses) installResponseCheck(app);
  installAuth(app, ctx);
  installIdempotencyKeyCheck(app);
  metrics = new ManagerMetrics(ctx);
  installRequestTiming(app, metrics);
  await installWriteLimits(app, { perToken: o.rateLimitToken ?? DEFAULT_WRITE_LIMITS.perToken, perNode: o.rateLimitNode ?? DEFAULT_WRITE_LIMITS.perNode }, o.insecure === true);
  await app.register(metricsRoutes, { metrics });
  await app.register(joinRoutes, { ctx });
  await app.register(tokenRoutes, { ctx });
  await app.register(nodeRemovalRoutes, { ctx });
  // The Raft sender is the manager the client certificate names (auth set req.orchPeer).
  const senderOf = mtls
    ? (req: FastifyRequest) => {
        const p = req.orchPeer;
        if (p?.role !== 'manager') return null;
        for (const [k, a] of addresses) if (a === p.cn) return k;
        return null;
      }
    : undefined;
  await app.register(raftRoutes, { self: id, clusterId, senderOf, peers: () => peerIds, receive: (msgs) => node.receive(msgs), receiveAndReply: (from, msgs) => node.receiveAndReply(from, msgs), peerConnectionClosed: (from) => node.peerConnectionClosed(from), faults });
  if (faults) {
    app.log.warn('chaos fault injection is ON (--chaos): PUT /chaos/faults can cut this manager off; never use this flag in production');
    await app.register(chaosRoutes, { faults });
  }
  await app.register(kvRoutes, { ctx });
  const eventStats = { open: 0, dropped: 0 };
  metrics.watchEventStreams(eventStats);
  await app.register(eventRoutes, { ctx, stats: eventStats, limits: { maxSubscribers: o.maxEventSubscribers ?? DEFAULT_EVENT_LIMITS.maxSubscribers, maxBufferedBytes: o.eventBufferBytes ?? DEFAULT_EVENT_LIMITS.maxBufferedBytes } });
  await app.register(uiRoutes);
  let removedHandled = false;
  const onRemoved = () => {
    if (removedHandled) return;
    removedHandled = true;
    app.log.warn(`manager ${id} was removed from the cluster; it stops participating`);
    setImmediate(() => void stopManager().then(() => o.onRemoved?.()));
  };
  await app.register(clusterRoutes, { ctx, clusterId, electionMs: o.electionMs ?? 1000, onRemoved });
  await app.register(serviceRoutes, { ctx });
  const liveness = new Liveness(ctx, o.workerHeartbeatMs ?? 1000, o.workerMissed ?? 3, o.nodeRemoveAfterMs ?? DEFAULT_NODE_REMOVE_AFTER_MS);
  ctx.usage = (id) => liveness.usage.get(id) ?? null;
  await app.register(workerRoutes, { ctx, liveness, faults });
  const reconciler = new Reconciler(ctx, o.scheduler ?? 'spread');
  reconciler.observePlacement = (ms, n) => metrics?.observePlacement(ms, n);
  try {
    await node.start(transport);
  } catch (err) {
    await storage.close();
    throw err;
  }
  await app.listen({ host: listen.host, port: listen.port });
  reconciler.start();
  liveness.start();
  const stopAnnouncer = announceLeadership(ctx, self);
  const stopSeeding = seedSettings(ctx, note);
  const stopPromoter = promoteCaughtUpLearners(ctx, (m) => app.log.info(m));
  const stopRemovalWatch = watchOwnRemoval(ctx, onRemoved);
  heapTrimmer = startHeapTrim(o.heapTrimMib ?? DEFAULT_HEAP_TRIM.minUsedBytes / 2 ** 20, node, metrics, app.log);
  const stopSecurity = mtls ? startSecurityDuties(ctx, mtls, bootstrap!.startManagerRenewal(o.dataDir, self, mtls, certTtlMs, note), note) : () => undefined;
  if (o.insecure) app.log.warn('INSECURE: --insecure serves plain HTTP with no authentication; for development on loopback only');
  if (mtls?.created) announceNewCluster(o, mtls.created, mtls.tls.material.clusterId);
  app.log.info({ id, address: self, peers, dataDir: o.dataDir, clusterId }, `manager ${id} listening on ${o.listen}`);

  started = true;
  if (fatal) stopAfterFatal(fatal);

  /**
   * Fail-stop: this manager stops serving at once (open connections are dropped, so clients and
   * workers go to the other managers, and followers see the leader's connections close and elect
   * another without waiting out a timeout). The disk is not touched again. Bounded: the owner hears
   * of it within FAIL_STOP_MS whatever hangs.
   */
  function stopAfterFatal(err: Error): void {
    const closing = (stopping ??= stop(false));
    app.server.closeAllConnections();
    const bound = new Promise((r) => setTimeout(r, FAIL_STOP_MS).unref());
    void Promise.race([closing.catch(() => undefined), bound]).then(() => o.onFatal?.(err));
  }

  /** `healthy` false: after a fatal error, no hand-over and no last write to the disk. */
  async function stop(healthy = true): Promise<void> {
    if (healthy && node.isLeader() && node.transferLeadership()) {
      const deadline = Date.now() + 2 * (o.electionMs ?? 1000);
      while (node.isLeader() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      app.log.info({ leader: node.leaderId() }, node.isLeader() ? 'leadership transfer timed out' : `handed leadership to manager ${node.leaderId()}`);
    }
    reconciler.stop();
    liveness.stop();
    stopSecurity();
    stopAnnouncer();
    stopSeeding();
    stopPromoter();
    stopRemovalWatch();
    heapTrimmer?.stop();
    // A write that hangs (a dying disk) must not hang the shutdown: then the disk is left open.
    const idle = await node.stop(healthy ? 5000 : 500);
    const closing = app.close();
    if (!healthy) {
      // Serving has stopped once the server is closed; the rest closes while the process exits.
      app.server.closeAllConnections();
      await closing;
      void Promise.allSettled([transport?.close(), mtls?.tls.close()]);
      return;
    }
    await closing;
    await transport?.close();
    await mtls?.tls.close();
    if (idle) await storage.close();
  }
  const stopManager = () => (stopping ??= stop());
  return { id, app, node, state, storage, stop: stopManager };
}

/** Starts the heap trim (heap-trim.ts) unless --heap-trim-mib is 0 or this V8 gives no full collection. */
function startHeapTrim(mib: number, node: RaftNode, metrics: ManagerMetrics, log: FastifyBaseLogger): HeapTrimmer | null {
  if (mib === 0) return null;
  const gc = loadFullGc();
  if (!gc) {
    log.warn('heap trim is off: this node does not allow a full collection to be run (v8 --expose-gc)');
    return null;
  }
  const trimmer = new HeapTrimmer({
    policy: { ...DEFAULT_HEAP_TRIM, minUsedBytes: mib * 2 ** 20 },
    applied: () => node.metrics.applied,
    gc,
    onTrim: (t) => {
      metrics.observeHeapTrim(t);
      log.debug(`heap trim: ${Math.round(t.beforeBytes / 2 ** 20)} -> ${Math.round(t.afterBytes / 2 ** 20)} MiB used, a ${Math.round(t.pauseMs)} ms pause`);
    },
  });
  trimmer.start();
  return trimmer;
}

/** How far (in entries) a learner may trail the commit index and still be promoted. */
const PROMOTE_WITHIN = 200;

/** The leader promotes a learner to voter once it has caught up (and answers), one at a time. */
function promoteCaughtUpLearners(ctx: ManagerContext, log: (m: string) => void): () => void {
  return leaderLoop(ctx, 100, () => {
    const st = ctx.node.status();
    if (st.confIndex > st.commit) return null;
    const ready = st.conf.learners.find((l) => {
      const p = st.progress[l];
      return p !== undefined && p.recentActive && p.state === 'replicate' && st.commit - p.match <= PROMOTE_WITHIN;
    });
    if (ready === undefined) return null;
    return ctx.node.proposeConfChange({ type: 'promote', id: ready }).then(() => log(`manager ${ready} caught up and was promoted to voter`));
  });
}

/** A manager whose own log says it was removed (and that this is committed) stops. */
function watchOwnRemoval(ctx: ManagerContext, removed: () => void): () => void {
  let wasMember = false;
  const timer = setInterval(() => {
    const st = ctx.node.status();
    const member = st.conf.voters.includes(ctx.self) || st.conf.learners.includes(ctx.self);
    if (member) wasMember = true;
    else if (wasMember && st.confIndex <= st.commit) removed();
  }, 250);
  timer.unref();
  return () => clearInterval(timer);
}
