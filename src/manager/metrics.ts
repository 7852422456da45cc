// GET /metrics in Prometheus's text format (prom-client, one registry per manager): Raft (term,
// role, indexes, proposals, commit and fsync latency, leader changes, snapshots), the cluster
// (tasks by state, nodes by status), scheduling latency, API request latency and heap trims. Counters that
// the Raft node keeps itself are read at scrape time; latencies are observed as they happen.
import type { FastifyPluginAsync } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RaftObserver } from '../raft/index.js';
import { TASK_STATES } from '../api/tasks.js';
import type { ManagerContext } from './context.js';
import type { HeapTrim } from './heap-trim.js';

const ROLES = ['follower', 'pre-candidate', 'candidate', 'leader'] as const;
const MS_BUCKETS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

export class ManagerMetrics implements RaftObserver {
  readonly registry = new Registry();
  private readonly commit = new Histogram({ name: 'orch_raft_commit_latency_seconds', help: 'Time from a proposal on this manager to its commit and apply', buckets: MS_BUCKETS.map((b) => b / 1000), registers: [this.registry] });
  private readonly fsync = new Histogram({ name: 'orch_raft_fsync_latency_seconds', help: 'Time to write and sync one batch of log entries and hard state', buckets: MS_BUCKETS.map((b) => b / 1000), registers: [this.registry] });
  private readonly snapshotSize = new Gauge({ name: 'orch_raft_snapshot_size_bytes', help: 'Size of the last snapshot taken', registers: [this.registry] });
  private readonly scheduling = new Histogram({ name: 'orch_scheduling_latency_seconds', help: 'Time to place one round of pending tasks', buckets: MS_BUCKETS.map((b) => b / 1000), registers: [this.registry] });
  private readonly heapTrims = new Counter({ name: 'orch_heap_trims_total', help: 'Full collections run after a burst, once the log went quiet (--heap-trim-mib)', registers: [this.registry] });
  private readonly heapTrimPause = new Histogram({ name: 'orch_heap_trim_pause_seconds', help: 'Pause of each heap trim (one full collection)', buckets: MS_BUCKETS.map((b) => b / 1000), registers: [this.registry] });
  private readonly heapTrimFreed = new Counter({ name: 'orch_heap_trim_freed_bytes_total', help: 'Heap bytes the trims found to be garbage', registers: [this.registry] });
  private readonly placed = new Counter({ name: 'orch_scheduling_tasks_total', help: 'Tasks considered for placement', registers: [this.registry] });
  readonly api = new Histogram({ name: 'orch_api_request_duration_seconds', help: 'API request latency by route and status', labelNames: ['method', 'route', 'status'], buckets: MS_BUCKETS.map((b) => b / 1000), registers: [this.registry] });

  constructor(private readonly ctx: ManagerContext) {
    const reg = [this.registry];
    const node = () => ctx.node;
    // Counters the Raft node keeps: exposed as counters, advanced to its value at scrape time.
    const mirror = (name: string, help: string, read: () => number) => mirrorCounter(reg, name, help, read);
    mirror('orch_raft_proposals_committed_total', 'Proposals of this manager that committed', () => node().metrics.proposalsCommitted);
    mirror('orch_raft_proposals_failed_total', 'Proposals of this manager that failed or whose outcome is unknown', () => node().metrics.proposalsFailed);
    mirror('orch_raft_leader_changes_total', 'Leader changes seen by this manager', () => node().metrics.leaderChanges);
    mirror('orch_raft_snapshots_total', 'Snapshots taken by this manager', () => node().metrics.snapshotsTaken);
    new Gauge({ name: 'orch_raft_term', help: 'Current Raft term', registers: reg, collect() { this.set(node().status().term); } });
    new Gauge({ name: 'orch_raft_commit_index', help: 'Highest log index known committed', registers: reg, collect() { this.set(node().status().commit); } });
    new Gauge({ name: 'orch_raft_applied_index', help: 'Highest log index applied to the state', registers: reg, collect() { this.set(node().status().applied); } });
    new Gauge({
      name: 'orch_raft_role',
      help: '1 for the role this manager has now, 0 for the others',
      labelNames: ['role'],
      registers: reg,
      collect() {
        const role = node().status().role;
        for (const r of ROLES) this.set({ role: r }, r === role ? 1 : 0);
      },
    });
    new Gauge({ name: 'orch_raft_is_leader', help: '1 on the leader', registers: reg, collect() { this.set(node().isLeader() ? 1 : 0); } });
    new Gauge({
      name: 'orch_tasks',
      help: 'Tasks in the state, by state',
      labelNames: ['state'],
      registers: reg,
      collect() {
        const n = new Map<string, number>(TASK_STATES.map((s) => [s, 0]));
        for (const t of ctx.state.cluster.tasks.values()) n.set(t.state, (n.get(t.state) ?? 0) + 1);
        for (const [state, v] of n) this.set({ state }, v);
      },
    });
    new Gauge({
      name: 'orch_nodes',
      help: 'Worker nodes, by status',
      labelNames: ['status'],
      registers: reg,
      collect() {
        const n = new Map<string, number>([['ready', 0], ['down', 0]]);
        for (const x of ctx.state.cluster.nodes.values()) n.set(x.status, (n.get(x.status) ?? 0) + 1);
        for (const [status, v] of n) this.set({ status }, v);
      },
    });
    // Bounded by the state machine (MAX_REMEMBERED, MAX_REMEMBERED_BYTES): a flood of fresh keys must not grow them.
    new Gauge({ name: 'orch_idempotency_remembered_keys', help: 'Idempotency keys the state remembers (to answer retries)', registers: reg, collect() { this.set(ctx.state.rememberedKeys); } });
    new Gauge({ name: 'orch_idempotency_remembered_bytes', help: 'Bytes the remembered idempotency keys count (keys and kept results)', registers: reg, collect() { this.set(ctx.state.rememberedBytes); } });
    new Gauge({ name: 'orch_services', help: 'Services in the state', registers: reg, collect() { this.set(ctx.state.cluster.services.size); } });
    collectDefaultMetrics({ register: this.registry, prefix: 'orch_process_' });
  }

  /** The event streams' counts (api/events.ts), read at scrape time. */
  watchEventStreams(stats: { open: number; dropped: number }): void {
    const reg = [this.registry];
    new Gauge({ name: 'orch_event_streams', help: 'Followers of the event stream (GET /v1/events?follow=true) this manager serves now', registers: reg, collect() { this.set(stats.open); } });
    mirrorCounter(reg, 'orch_event_streams_dropped_total', 'Event streams dropped for reading too slowly', () => stats.dropped);
  }

  // What the Raft node reports as it goes (RaftObserver).
  commitMs(ms: number): void {
    this.commit.observe(ms / 1000);
  }

  saveMs(ms: number): void {
    this.fsync.observe(ms / 1000);
  }

  snapshotBytes(bytes: number): void {
    this.snapshotSize.set(bytes);
  }

  observeHeapTrim(t: HeapTrim): void {
    this.heapTrims.inc();
    this.heapTrimPause.observe(t.pauseMs / 1000);
    this.heapTrimFreed.inc(Math.max(0, t.beforeBytes - t.afterBytes));
  }

  observePlacement(ms: number, tasks: number): void {
    this.scheduling.observe(ms / 1000);
    this.placed.inc(tasks);
  }
}

/** A counter kept elsewhere, exposed as a counter advanced to its value at scrape time. */
function mirrorCounter(reg: Registry[], name: string, help: string, read: () => number): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers: reg,
    collect() {
      const v = read();
      if (v > seen) this.inc(v - seen);
      seen = Math.max(seen, v);
    },
  });
}

export const metricsRoutes: FastifyPluginAsync<{ metrics: ManagerMetrics }> = async (app, { metrics }) => {
  // Prometheus' text format, not JSON: no answer schema; a read token reads it.
  app.get('/metrics', { config: { access: 'read' } }, async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
};

/** Times every request; routes are labelled by their pattern, so ids do not make new series. */
export function installRequestTiming(app: import('fastify').FastifyInstance, metrics: ManagerMetrics): void {
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    if (route.startsWith('/raft/') || route === '/metrics') return;
    metrics.api.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
}
