// What the reconciler (leader/reconciler.ts) must change for every service to match its spec: one
// task per slot 1..replicas, restart policies, rolling updates, drains. Pure: no I/O,
// and the time is an argument.
import { newId } from './ids.js';
import type { ServiceSpec } from '../spec/index.js';
import { specOf, TERMINAL, type ClusterState, type NewTask, type Service, type Task, type TaskState, type UpdateAction } from './state/cluster-state.js';

export interface ReconcileActions {
  /** The soonest something waited on (a restart delay, an update's monitor) is due, in ms. */
  retryIn?: number;
  create: NewTask[];
  shutdown: string[];
  /** Tasks that never reached a node: they end at once. */
  terminal: string[];
  /** Finished tasks beyond a slot's history. */
  remove: string[];
  /** Steps of rolling updates: completed, paused or rolled back. */
  updates: { serviceId: string; to: number; action: UpdateAction; message: string | null }[];
}

/** Finished tasks kept per slot, for `orch get`; older ones are removed so the state stays bounded. */
export const HISTORY_PER_SLOT = 5;

/** Slots of one service moved off draining nodes at the same time. */
const DRAIN_PARALLELISM = 1;

interface Slot {
  /** Tasks that should run and have not ended. */
  live: Task[];
  /** Everything else: ended, or told to shut down. */
  previous: Task[];
}

/** Which of two tasks of one slot to keep: the furthest along, then the current version, then the newest. */
const PROGRESS: Record<TaskState, number> = { running: 4, starting: 3, assigned: 2, pending: 1, complete: 0, failed: 0, shutdown: 0, lost: 0 };

function newest(ts: Task[]): Task | undefined {
  let best: Task | undefined;
  for (const t of ts) if (!best || t.createdAt > best.createdAt || (t.createdAt === best.createdAt && t.id > best.id)) best = t;
  return best;
}

/** What must change for the state to match the specs. Pure: the same state gives the same plan (ids aside). */
export function plan(state: ClusterState, now: number, makeId: () => string = newId): ReconcileActions {
  const out: ReconcileActions = { create: [], shutdown: [], terminal: [], remove: [], updates: [] };
  const bySvc = new Map<string, Map<number, Slot>>();
  for (const t of state.tasks.values()) {
    let slots = bySvc.get(t.serviceId);
    if (!slots) bySvc.set(t.serviceId, (slots = new Map()));
    let s = slots.get(t.slot);
    if (!s) slots.set(t.slot, (s = { live: [], previous: [] }));
    if (t.desired === 'running' && !TERMINAL.has(t.state)) s.live.push(t);
    else {
      s.previous.push(t);
      if (t.desired === 'shutdown' && !TERMINAL.has(t.state) && t.nodeId === null) out.terminal.push(t.id);
    }
  }
  const draining = new Set<string>();
  for (const n of state.nodes.values()) if (n.availability === 'drain') draining.add(n.id);
  for (const svc of state.services.values()) {
    const slots = bySvc.get(svc.id) ?? new Map<number, Slot>();
    for (const s of slots.values()) {
      const ended = s.previous.filter((t) => TERMINAL.has(t.state)).sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
      for (const t of ended.slice(HISTORY_PER_SLOT)) out.remove.push(t.id);
    }
    planService(svc, slots, draining, now, makeId, out);
  }
  return out;
}

function planService(svc: Service, slots: Map<number, Slot>, draining: Set<string>, now: number, makeId: () => string, out: ReconcileActions): void {
  const stop = (t: Task) => {
    out.shutdown.push(t.id);
    if (t.nodeId === null) out.terminal.push(t.id);
  };
  const wait = (ms: number) => {
    if (ms > 0 && Number.isFinite(ms)) out.retryIn = Math.min(out.retryIn ?? Infinity, ms);
  };
  const spec = svc.spec;
  const T = svc.taskVersion;
  const create = (slot: number, restarts: number) => out.create.push({ id: makeId(), serviceId: svc.id, slot, version: T, ...(restarts ? { restarts } : {}) });
  if (svc.state !== 'active') {
    for (const s of slots.values()) s.live.forEach(stop);
    return;
  }
  const u = svc.update && (svc.update.state === 'updating' || svc.update.state === 'rolling-back') ? svc.update : null;
  if (u) {
    // A task of the new version that failed since the update (or the rollback) began stops it.
    let failed: Task | undefined;
    for (const s of slots.values()) failed ??= s.previous.find((t) => t.version === T && t.state === 'failed' && t.desired === 'running' && t.updatedAt >= u.startedAt);
    if (failed) {
      const why = `task ${failed.id} of slot ${failed.slot} failed: ${failed.error ?? `exit code ${failed.exitCode}`}`;
      const rollback = u.state === 'updating' && spec.update.failureAction === 'rollback';
      out.updates.push({ serviceId: svc.id, to: T, action: rollback ? 'rollback' : 'pause', message: why });
      return;
    }
  }
  for (const [slot, s] of slots) if (slot > spec.replicas) s.live.forEach(stop);
  let drainingSlots = 0;
  let updatingSlots = 0;
  const outdated: Task[] = [];
  for (let slot = 1; slot <= spec.replicas; slot++) {
    const s = slots.get(slot) ?? { live: [], previous: [] };
    const live: Task[] = [];
    for (const t of s.live) {
      // A task that never reached a node and runs an old version is replaced at no cost.
      if (t.nodeId === null && t.version !== T) stop(t);
      else live.push(t);
    }
    const onDrain = live.filter((t) => t.nodeId !== null && draining.has(t.nodeId));
    const keep = live
      .filter((t) => !onDrain.includes(t))
      .sort((a, b) => PROGRESS[b.state] - PROGRESS[a.state] || Number(b.version === T) - Number(a.version === T) || b.createdAt - a.createdAt);
    // Never two copies of one slot: the extra ones stop.
    keep.slice(1).forEach(stop);
    const k = keep[0];
    if (!k) {
      // Past a draining task, only its replacements' failures count against the restart policy.
      const since = onDrain.length ? Math.max(...onDrain.map((t) => t.createdAt)) : -Infinity;
      const previous = s.previous.filter((t) => t.createdAt > since);
      const w = restartWait(spec.restart, previous, now, T);
      if (onDrain.length && w === -1) onDrain.forEach(stop); // nothing will replace it: the drain goes on
      else if (w > 0) wait(w);
      else if (w === 0 && onDrain.length) {
        if (drainingSlots < DRAIN_PARALLELISM) create(slot, restartsOf(previous, T));
        drainingSlots++;
      } else if (w === 0) {
        create(slot, restartsOf(previous, T));
        if (u) updatingSlots++;
      }
      continue;
    }
    if (onDrain.length) {
      // Start first, then stop: the old task goes once its replacement runs, or at once when the
      // replacement cannot be placed anywhere (no capacity: waiting would never end).
      if (k.state === 'running' || (k.state === 'pending' && k.reason !== null)) onDrain.forEach(stop);
      else {
        drainingSlots++;
        continue;
      }
    }
    if (!u) continue;
    if (k.version !== T) outdated.push(k);
    else {
      const left = stableIn(k, svc, now);
      if (left !== 0) {
        updatingSlots++;
        wait(left);
      }
    }
  }
  if (!u) return;
  if (outdated.length === 0 && updatingSlots === 0 && drainingSlots === 0) {
    out.updates.push({ serviceId: svc.id, to: T, action: 'complete', message: null });
    return;
  }
  // Stop first, then start (as Swarm does by default): parallelism slots at a time, the ones not
  // running first, then by slot.
  outdated.sort((a, b) => Number(a.state === 'running') - Number(b.state === 'running') || a.slot - b.slot);
  for (const t of outdated.slice(0, Math.max(0, spec.update.parallelism - updatingSlots))) {
    stop(t);
    create(t.slot, 0);
  }
}

/**
 * 0 when a task of a rolling update's new version has run (and been healthy, if checked) for the
 * monitor period; otherwise the ms still to wait, Infinity while it is not running yet.
 */
export function stableIn(t: Task, svc: Service, now: number): number {
  if (t.state !== 'running' || t.runningAt === null) return Infinity;
  if (specOf(svc, t.version).healthCheck && t.health !== 'healthy') return Infinity;
  return Math.max(0, t.runningAt + svc.spec.update.monitorMs - now);
}

/** Failures in a row of a slot, from its newest previous task; a new spec starts counting again. */
function restartsOf(previous: Task[], version: number): number {
  const last = newest(previous);
  if (!last || last.version !== version || last.desired !== 'running') return 0;
  return last.state === 'failed' || last.state === 'complete' ? last.restarts + 1 : 0;
}

/**
 * The restart policy of a slot whose last task ended: 0 to replace it now, the milliseconds to wait
 * (exponential backoff from restart.delay, capped at 5 minutes), or -1 never. A task that was shut
 * down, lost with its node or replaced by a new spec is replaced at once: that was not the task
 * failing. `version` is the service's current task version.
 */
export function restartWait(policy: ServiceSpec['restart'], previous: Task[], now: number, version?: number): number {
  const last = newest(previous);
  if (!last) return 0;
  if (last.desired === 'shutdown' || last.state === 'shutdown' || last.state === 'lost' || !TERMINAL.has(last.state)) return 0;
  if (version !== undefined && last.version !== version) return 0;
  if (policy.policy === 'never') return -1;
  if (policy.policy === 'on-failure' && last.state === 'complete') return -1;
  const failures = last.restarts + 1;
  if (policy.maxAttempts > 0 && failures > policy.maxAttempts) return -1;
  const delay = Math.min(policy.delayMs * 2 ** (failures - 1), 300_000);
  return Math.max(0, last.updatedAt + delay - now);
}
