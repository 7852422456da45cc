// The leader's side of placement: it turns the committed state (and live usage from heartbeats)
// into the scheduler's input. The result is committed before any worker hears of it.
import { schedule, type HostPort, type SchedNode, type Strategy } from '../scheduler/index.js';
import type { ServiceSpec } from '../spec/index.js';
import { specOf, TERMINAL, type ClusterState } from './state/cluster-state.js';

export interface Placement {
  assignments: { taskId: string; nodeId: string }[];
  unplaced: { taskId: string; reason: string }[];
  cursor: string | null;
}

function hostPorts(spec: ServiceSpec): HostPort[] {
  if (spec.network === 'none') return [];
  return spec.ports.map((p) => ({ port: spec.network === 'host' ? p.container : (p.host ?? p.container), protocol: p.protocol }));
}

export function placePending(
  state: ClusterState,
  strategy: Strategy = 'spread',
  /** Live usage from heartbeats: cpu as a fraction of the node's cpus, memory in bytes. */
  usage: (nodeId: string) => { cpu: number; memory: number } | null = () => null,
  cursor: string | null = null,
): Placement {
  const nodes: SchedNode[] = [...state.nodes.values()].map((n) => {
    const u = usage(n.id);
    return { ...n, usage: u ? { cpu: u.cpu * n.capacity.cpu, memory: u.memory } : null };
  });
  const placed = [];
  const tasks = [];
  for (const t of state.tasks.values()) {
    const svc = state.services.get(t.serviceId);
    if (!svc) continue;
    if (t.nodeId && !TERMINAL.has(t.state)) {
      const spec = specOf(svc, t.version);
      placed.push({ nodeId: t.nodeId, serviceId: t.serviceId, resources: spec.resources, ports: hostPorts(spec) });
    }
    else if (t.state === 'pending' && t.desired === 'running' && t.nodeId === null) tasks.push(t);
  }
  tasks.sort((a, b) => a.createdAt - b.createdAt || a.slot - b.slot || (a.id < b.id ? -1 : 1));
  const res = schedule({
    nodes,
    placed,
    strategy,
    cursor,
    tasks: tasks.map((t) => {
      const spec = specOf(state.services.get(t.serviceId)!, t.version);
      return { id: t.id, serviceId: t.serviceId, resources: spec.resources, constraints: spec.constraints, ports: hostPorts(spec), strategy: spec.placement };
    }),
  });
  // A reason is proposed only when it changes, so an unplaceable task does not fill the log.
  return { ...res, unplaced: res.unplaced.filter((u) => state.tasks.get(u.taskId)?.reason !== u.reason) };
}
