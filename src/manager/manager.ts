// The manager process: a Raft replica (LevelDB log, HTTP transport) with the replicated state and
// the public API on one port. Managers are numbered by their address's position in the sorted
// --peers list, so every manager derives the same ids from the same list.
import { createHash } from 'node:crypto';
import { chmodSync, renameSync, writeFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import { HttpTransport, RaftNode, RaftStorage, raftRoutes, type NodeId } from '../raft/index.js';
import { NetworkFaults } from './faults.js';
import { chaosRoutes } from './api/chaos.js';
import { parseAddress } from '../api/address.js';
import { clusterRoutes } from './api/cluster.js';
import { settingsRoutes } from './api/settings.js';
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
import { securityRoutes } from './api/security.js';
import { apiTokenRoutes } from './api/api-tokens.js';
import type { ManagerTls } from './tls-bootstrap.js';
import { kvRoutes } from './api/kv.js';
import { serviceRoutes } from './api/services.js';
import { taskRoutes } from './api/tasks.js';
import { nodeRoutes } from './api/nodes.js';
import { Reconciler } from './leader/reconciler.js';
import type { Strategy } from '../scheduler/index.js';
import { PLACEMENT_STRATEGIES } from '../api/spec.js';
import { Liveness } from './liveness.js';
import { workerRoutes } from './api/node-protocol.js';
import { managerRoutes } from './api/managers.js';
import type { ManagerContext } from './context.js';
import { ManagerState } from './state/machine.js';
import { DEFAULT_HEAP_TRIM, type HeapTrimmer } from './heap-trim.js';
import { startHeapTrim } from './heap-trim-start.js';
import { openManagerData } from './open-data.js';
import { DutyRunner } from './leader/runner.js';
import { managerDuties } from './leader/duties.js';

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

/** A node down for a day is removed from the state (its certificate with it): it joins again as a new node. */
const DEFAULT_NODE_REMOVE_AFTER_MS = 86_400_000;

/** Certificates live 90 days, as Swarm's. */
const DEFAULT_CERT_TTL_MS = 90 * 86_400_000;

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
  if (o.scheduler !== undefined && !(PLACEMENT_STRATEGIES as readonly string[]).includes(o.scheduler)) {
    throw new Error(`--scheduler: expected ${PLACEMENT_STRATEGIES.slice(0, -1).join(', ')} or ${PLACEMENT_STRATEGIES.at(-1)}, got ${JSON.stringify(o.scheduler)}`);
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
  const listen = parseAddress('--listen', o.listen);
  const note = (m: string) => console.error(`${new Date().toISOString()} orch manager ${self}: ${m}`);
  const certTtlMs = o.certTtlMs ?? DEFAULT_CERT_TTL_MS;
  const { storage, hooks, id, clusterId, base, mtls } = await openManagerData(o, v, certTtlMs, note);
  // Loaded only for a TLS cluster: it brings the X.509 library.
  const renewal = mtls ? await import('./leader/cert-renewal.js') : null;

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
  let runner: DutyRunner | null = null;
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
    // The leader duties start and stop on this (runner is set before the node starts).
    onReadyLeader: (term) => runner?.leadership(term),
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
  await app.register(securityRoutes, { ctx });
  await app.register(apiTokenRoutes, { ctx });
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
  await app.register(clusterRoutes, { ctx });
  await app.register(settingsRoutes, { ctx });
  let removedHandled = false;
  const onRemoved = () => {
    if (removedHandled) return;
    removedHandled = true;
    app.log.warn(`manager ${id} was removed from the cluster; it stops participating`);
    setImmediate(() => void stopManager().then(() => o.onRemoved?.()));
  };
  await app.register(managerRoutes, { ctx, clusterId, electionMs: o.electionMs ?? 1000, onRemoved });
  await app.register(serviceRoutes, { ctx });
  await app.register(taskRoutes, { ctx });
  await app.register(nodeRoutes, { ctx });
  const liveness = new Liveness(o.workerHeartbeatMs ?? 1000, o.workerMissed ?? 3);
  ctx.usage = (id) => liveness.usage.get(id) ?? null;
  await app.register(workerRoutes, { ctx, liveness, faults });
  const reconciler = new Reconciler(ctx, o.scheduler ?? 'spread');
  reconciler.observePlacement = (ms, n) => metrics?.observePlacement(ms, n);
  const duties = managerDuties({
    ctx,
    address: self,
    reconciler,
    heartbeats: liveness,
    nodeRemoveAfterMs: o.nodeRemoveAfterMs ?? DEFAULT_NODE_REMOVE_AFTER_MS,
    tls: mtls ? { mtls, renewal: renewal!.renewOwnCertificate(o.dataDir, self, mtls, certTtlMs, note) } : undefined,
    onRemoved,
    note,
    info: (m) => app.log.info(m),
  });
  runner = new DutyRunner({ ...duties, isReadyLeader: () => node.isReadyLeader(), log: (m) => app.log.warn(m) });
  try {
    await node.start(transport);
  } catch (err) {
    await storage.close();
    throw err;
  }
  await app.listen({ host: listen.host, port: listen.port });
  runner.start();
  heapTrimmer = startHeapTrim(o.heapTrimMib ?? DEFAULT_HEAP_TRIM.minUsedBytes / 2 ** 20, node, metrics, app.log);
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
    // After a fatal error nothing a duty has in flight can commit here: no waiting for it.
    const dutiesStopped = runner!.stop();
    if (healthy) await dutiesStopped;
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
