// Interim placement (until the scheduler of a later issue): each pending task goes to the ready,
// active node with the fewest live tasks. Pure: the leader commits the result before dispatching.
import { TERMINAL, type ClusterState } from './state/cluster-state.js';

export interface Placement {
  assignments: { taskId: string; nodeId: string }[];
  unplaced: { taskId: string; reason: string }[];
}

export function placePending(state: ClusterState): Placement {
  const out: Placement = { assignments: [], unplaced: [] };
  const nodes = [...state.nodes.values()].filter((n) => n.status === 'ready' && n.availability === 'active').sort((a, b) => (a.id < b.id ? -1 : 1));
  const load = new Map<string, number>(nodes.map((n) => [n.id, 0]));
  const pending = [];
  for (const t of state.tasks.values()) {
    if (t.nodeId && !TERMINAL.has(t.state) && load.has(t.nodeId)) load.set(t.nodeId, load.get(t.nodeId)! + 1);
    if (t.state === 'pending' && t.desired === 'running' && t.nodeId === null) pending.push(t);
  }
  pending.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  for (const t of pending) {
    if (nodes.length === 0) {
      const reason = state.nodes.size === 0 ? 'no worker has joined the cluster yet' : `no ready and active node (${state.nodes.size} known)`;
      if (t.reason !== reason) out.unplaced.push({ taskId: t.id, reason });
      continue;
    }
    let best = nodes[0];
    for (const n of nodes) if (load.get(n.id)! < load.get(best.id)!) best = n;
    load.set(best.id, load.get(best.id)! + 1);
    out.assignments.push({ taskId: t.id, nodeId: best.id });
  }
  return out;
}
