// The manager process, wired: its data (open-data.ts), the Raft node and transport, the replicated
// state, the API on one port, and the duties a leader or every manager runs (leader/). Options and
// their checks are in options.ts.
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import { HttpTransport, RaftNode, RaftStorage, raftRoutes, type NodeId } from '../raft/index.js';
import { NetworkFaults } from './faults.js';
import { chaosRoutes } from './api/chaos.js';
import { parseAddress } from '../api/address.js';
import { clusterRoutes } from './api/cluster.js';
import { installErrorHandler } from './api/errors.js';
import { installValidation } from './api/validation.js';
import { installResponseCheck } from './api/response-check.js';
import { installAuth, requireDeclaredAccess } from './api/auth.js';
import { DEFAULT_EVENT_LIMITS, eventRoutes } from './api/events.js';
import { DEFAULT_WRITE_LIMITS, installWriteLimits } from './api/rate-limit.js';
import { DEFAULT_SERVER_TIMEOUTS, timeoutOptions } from '../security/server-timeouts.js';
import { installIdempotencyKeyCheck } from './api/idempotency.js';
import { uiRoutes } from './api/ui.js';
import { installRequestTiming, ManagerMetrics, metricsRoutes } from './metrics.js';
import { joinRoutes } from './api/join.js';
import { tokenRoutes } from './api/tokens.js';
import { kvRoutes } from './api/kv.js';
import { serviceRoutes } from './api/services.js';
import { taskRoutes } from './api/tasks.js';
import { nodeRoutes } from './api/nodes.js';
import { Reconciler } from './leader/reconciler.js';
import { Liveness } from './liveness.js';
import { workerRoutes } from './api/node-protocol.js';
import type { ManagerContext } from './context.js';
import { ManagerState } from './state/machine.js';
import { DEFAULT_HEAP_TRIM, type HeapTrimmer } from './heap-trim.js';
import { startHeapTrim } from './heap-trim-start.js';
import { openManagerData } from './open-data.js';
import { DutyRunner } from './leader/runner.js';
import { validateManagerOptions, type ManagerOptions } from './options.js';
import { announceNewCluster } from './new-cluster-banner.js';

export { validateManagerOptions, type ManagerOptions } from './options.js';
import { managerDuties } from './leader/duties.js';


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
  requireDeclaredAccess(app);
  if (hooks.checkResponses) installResponseCheck(app);
  installAuth(app, ctx);
  installIdempotencyKeyCheck(app);
  metrics = new ManagerMetrics(ctx);
  installRequestTiming(app, metrics);
  await installWriteLimits(app, { perToken: o.rateLimitToken ?? DEFAULT_WRITE_LIMITS.perToken, perNode: o.rateLimitNode ?? DEFAULT_WRITE_LIMITS.perNode }, o.insecure === true);
  await app.register(metricsRoutes, { metrics });
  await app.register(joinRoutes, { ctx });
  await app.register(tokenRoutes, { ctx });
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
