// The leader-only loop that holds every service at its spec: one task per slot 1..replicas. It runs
// only on a leader whose first entry of its term has committed (its view of the state is complete)
// and does nothing the moment leadership is lost: every decision is a proposal that must commit.
import type { ManagerContext } from './context.js';
import { newId } from './ids.js';
import { placePending } from './placement.js';
import type { Strategy } from '../scheduler/index.js';
import type { ServiceSpec } from '../spec/index.js';
import { TERMINAL, type ClusterState, type Task } from './state/cluster-state.js';
import { ManagerState, type Envelope } from './state/machine.js';

export interface ReconcileActions {
  /** The soonest a slot waiting out its restart delay may be refilled, in ms. */
  retryIn?: number;
  create: { id: string; serviceId: string; slot: number; version: number }[];
  shutdown: string[];
  /** Tasks that never reached a node: they end at once. */
  terminal: string[];
}

/** What must change for the state to match the specs. Pure: the same state gives the same plan (ids aside). */
export function plan(state: ClusterState, now: number, makeId: () => string = newId): ReconcileActions {
  const out: ReconcileActions = { create: [], shutdown: [], terminal: [] };
  const bySlot = new Map<string, number>();
  for (const t of state.tasks.values()) {
    const svc = state.services.get(t.serviceId);
    const live = !TERMINAL.has(t.state);
    if (t.desired === 'running' && live) {
      // A task that never reached a node and runs an old version is replaced at no cost.
      const stale = svc !== undefined && t.nodeId === null && t.version < svc.taskVersion;
      if (!svc || svc.state !== 'active' || t.slot > svc.spec.replicas || stale) {
        out.shutdown.push(t.id);
        if (t.nodeId === null) out.terminal.push(t.id);
      } else {
        const k = `${t.serviceId}/${t.slot}`;
        bySlot.set(k, (bySlot.get(k) ?? 0) + 1);
      }
    } else if (t.desired === 'shutdown' && live && t.nodeId === null) {
      out.terminal.push(t.id);
    }
  }
  const history = new Map<string, Task[]>();
  for (const t of state.tasks.values()) {
    if (!TERMINAL.has(t.state)) continue;
    const k = `${t.serviceId}/${t.slot}`;
    const list = history.get(k) ?? [];
    list.push(t);
    history.set(k, list);
  }
  for (const svc of state.services.values()) {
    if (svc.state !== 'active') continue;
    for (let slot = 1; slot <= svc.spec.replicas; slot++) {
      const k = `${svc.id}/${slot}`;
      if (bySlot.get(k)) continue;
      const wait = restartWait(svc.spec.restart, history.get(k) ?? [], now);
      if (wait === 0) out.create.push({ id: makeId(), serviceId: svc.id, slot, version: svc.taskVersion });
      else if (wait > 0) out.retryIn = Math.min(out.retryIn ?? Infinity, wait);
    }
  }
  return out;
}

/**
 * The restart policy of a slot whose last task ended: 0 to replace it now, the milliseconds to wait
 * (exponential backoff from restart.delay, capped at 5 minutes), or -1 never. A task that was shut
 * down or lost with its node is replaced at once: that was not the task failing.
 */
export function restartWait(policy: ServiceSpec['restart'], ended: Task[], now: number): number {
  if (ended.length === 0) return 0;
  const sorted = [...ended].sort((a, b) => b.updatedAt - a.updatedAt);
  const last = sorted[0];
  if (last.state === 'shutdown' || last.state === 'lost') return 0;
  if (policy.policy === 'never') return -1;
  if (policy.policy === 'on-failure' && last.state === 'complete') return -1;
  let failures = 0;
  for (const t of sorted) {
    if (t.state !== 'failed' && t.state !== 'complete') break;
    failures++;
  }
  if (policy.maxAttempts > 0 && failures > policy.maxAttempts) return -1;
  const delay = Math.min(policy.delayMs * 2 ** Math.max(0, failures - 1), 300_000);
  return Math.max(0, last.updatedAt + delay - now);
}

export class Reconciler {
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private lastRevision = -1;
  /** Rounds that proposed something, for metrics and tests. */
  rounds = 0;

  /** Where round-robin placement continues from. */
  private cursor: string | null = null;

  constructor(
    private readonly ctx: ManagerContext,
    private readonly strategy: Strategy = 'spread',
    private readonly intervalMs = 50,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async tick(): Promise<void> {
    const { node, state } = this.ctx;
    if (this.busy || !node.isReadyLeader()) {
      if (!node.isLeader()) this.lastRevision = -1; // a new term re-examines everything
      return;
    }
    if (state.cluster.revision === this.lastRevision) return;
    this.busy = true;
    try {
      const rev = state.cluster.revision;
      const ts = Date.now();
      const p = plan(state.cluster, ts);
      const props: Envelope[] = [];
      if (p.shutdown.length || p.terminal.length) props.push({ op: 'task.shutdown', ts, ids: p.shutdown, terminal: p.terminal, id: newId() });
      // Batched: all new tasks of a round in one entry (chunked so an entry stays small).
      for (let k = 0; k < p.create.length; k += 1000) props.push({ op: 'task.create', ts, tasks: p.create.slice(k, k + 1000), id: newId() });
      // Placement is committed before any worker hears of it; tasks created this round are placed
      // in the next one, once they exist in the committed state.
      const placed = placePending(state.cluster, this.strategy, (id) => this.ctx.usage?.(id) ?? null, this.cursor);
      this.cursor = placed.cursor;
      if (placed.assignments.length || placed.unplaced.length) props.push({ op: 'task.assign', ts, assignments: placed.assignments, unplaced: placed.unplaced, id: newId() });
      if (props.length === 0) {
        // Nothing to do until the state changes, unless a slot waits out a restart delay.
        this.lastRevision = p.retryIn === undefined ? rev : -1;
        return;
      }
      this.rounds++;
      await Promise.all(props.map((c) => node.propose(ManagerState.encode(c))));
    } catch {
      // Not leader any more, or the outcome is unknown: the next round looks at the committed state.
    } finally {
      this.busy = false;
    }
  }
}
