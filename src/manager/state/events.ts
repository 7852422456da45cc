// Events, as the state changes: what a committed command did to the tasks, services and nodes it
// touched, found by comparing them before and after it is applied (every manager applies the same
// commands in the same order, so every manager derives the same events for a log index). Only what
// the command can touch is compared, so the cost follows the command, not the size of the state.
import type { ClusterEvent } from '../../api/events.js';
import type { ClusterCommand, ClusterState } from './cluster-state.js';

function touchedTasks(c: ClusterState, cmd: ClusterCommand): string[] {
  switch (cmd.op) {
    case 'task.create':
      return cmd.tasks.map((t) => t.id);
    case 'task.assign':
      return cmd.assignments.map((a) => a.taskId);
    case 'task.report':
      return cmd.reports.map((r) => r.taskId);
    case 'task.shutdown':
      return [...cmd.ids, ...(cmd.terminal ?? [])];
    case 'node.status':
      return cmd.nodes.flatMap((n) => [...c.taskIdsOn(n.id)]);
    case 'node.remove':
      return [...c.taskIdsOn(cmd.nodeId)];
    case 'service.stop': {
      const svc = c.findService(cmd.service);
      return svc ? c.tasksOf(svc.id).map((t) => t.id) : [];
    }
    default:
      return [];
  }
}

function touchedService(c: ClusterState, cmd: ClusterCommand): string | null {
  if (cmd.op === 'service.upsert') return c.services.get(cmd.serviceId)?.id ?? c.findService(cmd.spec.name)?.id ?? cmd.serviceId;
  if (cmd.op === 'service.stop') return c.findService(cmd.service)?.id ?? null;
  if (cmd.op === 'service.update') return c.findService(cmd.serviceId)?.id ?? null;
  return null;
}

function touchedNodes(cmd: ClusterCommand): string[] {
  if (cmd.op === 'node.register') return [cmd.node.id];
  if (cmd.op === 'node.status') return cmd.nodes.map((n) => n.id);
  if (cmd.op === 'node.availability' || cmd.op === 'node.remove') return [cmd.nodeId];
  return [];
}

/** Applies `cmd` through `apply` and returns its result with the events it caused. */
export function applyWithEvents<R>(c: ClusterState, cmd: ClusterCommand, apply: () => R): { result: R; events: ClusterEvent[] } {
  const taskIds = touchedTasks(c, cmd);
  const tasksBefore = new Map(taskIds.map((id) => [id, c.tasks.get(id)?.state ?? null]));
  const svcId = touchedService(c, cmd);
  const svcBefore = svcId ? structuredClone(c.services.get(svcId) ?? null) : null;
  const nodeIds = touchedNodes(cmd);
  const nodesBefore = new Map(nodeIds.map((id) => [id, c.nodes.get(id) ? { ...c.nodes.get(id)! } : null]));
  const result = apply();
  const events: ClusterEvent[] = [];
  for (const [id, from] of tasksBefore) {
    const t = c.tasks.get(id);
    if (t && t.state !== from) events.push({ type: 'task', id, service: t.serviceName, slot: t.slot, node: t.nodeId, from, to: t.state, error: t.error });
  }
  if (svcId) {
    const after = c.services.get(svcId);
    if (after) {
      const ev = (action: Extract<ClusterEvent, { type: 'service' }>['action']) => events.push({ type: 'service', action, id: after.id, name: after.name, version: after.version });
      if (!svcBefore) ev('created');
      else {
        if (after.state !== svcBefore.state) ev(after.state === 'stopped' ? 'stopped' : 'started');
        else if (after.version !== svcBefore.version && cmd.op === 'service.upsert') ev('updated');
        const u0 = svcBefore.update?.state;
        const u1 = after.update?.state;
        if (u1 && (u1 !== u0 || after.update?.to !== svcBefore.update?.to)) {
          if (u1 === 'paused') ev('update-paused');
          else if (u1 === 'completed') ev('update-completed');
          else if (u1 === 'rolling-back') ev('rolling-back');
          else if (u1 === 'rolled-back') ev('rolled-back');
        }
      }
    }
  }
  for (const [id, before] of nodesBefore) {
    const n = c.nodes.get(id);
    if (!n) {
      if (before) events.push({ type: 'node', action: 'removed', id, name: before.name });
      continue;
    }
    if (!before || cmd.op === 'node.register') events.push({ type: 'node', action: 'registered', id, name: n.name });
    else if (n.status !== before.status) events.push({ type: 'node', action: n.status, id, name: n.name });
    if (before && n.availability !== before.availability) events.push({ type: 'node', action: n.availability, id, name: n.name });
  }
  return { result, events };
}
