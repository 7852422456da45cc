// Applying the task commands: create, place, report on, shut down and forget tasks.
import type { ClusterModel } from './model.js';
import { specOf } from './services.js';
import { HEALTHS, HEALTH_CODE, STATES, STATE_CODE } from './states.js';
import { CONTAINER_ID, TERMINAL, type ClusterResult, type CommandOf, type TaskState } from './types.js';

/** Allowed forward moves of a task's state; a report never moves a task backwards. */
const ORDER: Record<TaskState, number> = { pending: 0, assigned: 1, starting: 2, running: 3, complete: 4, failed: 4, shutdown: 4, lost: 4 };

export function createTasks(m: ClusterModel, cmd: CommandOf<'task.create'>): ClusterResult {
  for (const t of cmd.tasks) {
    const svc = m.services.get(t.serviceId);
    if (!svc || m.tasks.has(t.id)) continue;
    const spec = specOf(svc, t.version);
    m.tasks.set(t.id, {
      id: t.id,
      // The service's own string, not the command's copy: 100,000 tasks share one.
      serviceId: svc.id,
      serviceName: svc.name,
      slot: t.slot,
      version: t.version,
      nodeId: null,
      desired: 'running',
      state: 'pending',
      containerId: null,
      exitCode: null,
      error: null,
      reason: null,
      restarts: t.restarts ?? 0,
      runningAt: null,
      health: spec.healthCheck ? 'starting' : null,
      createdAt: cmd.ts,
      updatedAt: cmd.ts,
    });
  }
  return { ok: true, tasks: cmd.tasks.length };
}

export function removeTasks(m: ClusterModel, cmd: CommandOf<'task.remove'>): ClusterResult {
  // Only finished tasks are forgotten (a slot keeps its last few as history).
  let n = 0;
  for (const id of cmd.ids) {
    const t = m.tasks.get(id);
    if (!t || !TERMINAL.has(t.state)) continue;
    m.tasks.delete(id);
    if (t.nodeId) m.byNode.get(t.nodeId)?.delete(id);
    n++;
  }
  return { ok: true, tasks: n };
}

export function shutdownTasks(m: ClusterModel, cmd: CommandOf<'task.shutdown'>): ClusterResult {
  let n = 0;
  for (const id of cmd.ids) {
    const t = m.tasks.get(id);
    if (!t || t.desired === 'shutdown') continue;
    t.desired = 'shutdown';
    t.updatedAt = cmd.ts;
    m.touchNode(t.nodeId);
    n++;
  }
  // Tasks that never reached a node have nothing to stop: they end here.
  for (const id of cmd.terminal ?? []) {
    const t = m.tasks.get(id);
    if (!t || TERMINAL.has(t.state) || t.nodeId !== null) continue;
    t.desired = 'shutdown';
    t.state = 'shutdown';
    t.reason = null;
    t.updatedAt = cmd.ts;
    n++;
  }
  return { ok: true, tasks: n };
}

export function assignTasks(m: ClusterModel, cmd: CommandOf<'task.assign'>): ClusterResult {
  let n = 0;
  for (const a of cmd.assignments) {
    const t = m.tasks.get(a.taskId);
    // Only a pending task that still should run is placed; a stale plan changes nothing.
    const node = m.nodes.get(a.nodeId);
    if (!t || t.state !== 'pending' || t.desired !== 'running' || !node) continue;
    t.nodeId = node.id;
    m.indexTask(t);
    t.state = 'assigned';
    t.reason = null;
    t.updatedAt = cmd.ts;
    m.touchNode(a.nodeId);
    n++;
  }
  for (const u of cmd.unplaced ?? []) {
    const t = m.tasks.get(u.taskId);
    if (t && t.state === 'pending') t.reason = u.reason;
  }
  return { ok: true, tasks: n };
}

export function reportTasks(m: ClusterModel, cmd: CommandOf<'task.report'>): ClusterResult {
  let n = 0;
  for (const r of cmd.reports) {
    const t = m.tasks.get(r.taskId);
    // Only the node a task is assigned to may report on it, and only forwards.
    if (!t || t.nodeId !== cmd.nodeId || ORDER[r.state] < ORDER[t.state] || TERMINAL.has(t.state)) continue;
    // A container id is a Docker id: the log relay makes a URL of it.
    if (r.containerId !== undefined && r.containerId !== null && !CONTAINER_ID.test(r.containerId)) continue;
    const healthChanged = r.health !== undefined && r.health !== t.health && t.health !== null;
    if (r.state === t.state && r.containerId === undefined && !healthChanged) continue;
    if (r.state === 'running' && t.state !== 'running') t.runningAt = cmd.ts;
    // The constant, not the string the command's JSON gave (one per task otherwise).
    t.state = STATES[STATE_CODE[r.state]] ?? r.state;
    if (r.containerId !== undefined) t.containerId = r.containerId;
    if (r.exitCode !== undefined) t.exitCode = r.exitCode;
    if (r.error !== undefined) t.error = r.error;
    if (healthChanged) t.health = HEALTHS[HEALTH_CODE[r.health!]] ?? r.health!;
    t.updatedAt = cmd.ts;
    if (TERMINAL.has(t.state)) m.touchNode(t.nodeId);
    n++;
  }
  return { ok: true, tasks: n };
}
