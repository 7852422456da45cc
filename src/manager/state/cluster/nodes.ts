// Applying the node commands: register, mark up or down, change availability, remove for good.
import { isNodeAddress } from '../../../api/address.js';
import type { ClusterModel } from './model.js';
import { TERMINAL, type ClusterResult, type CommandOf, type NodeRecord } from './types.js';

export function registerNode(m: ClusterModel, cmd: CommandOf<'node.register'>): ClusterResult {
  if (m.removedNodes.has(cmd.node.id)) return { ok: false, code: 'bad-command', message: `node ${cmd.node.id} was removed from the cluster; join again as a new node` };
  // Checked here too, not only by the API: a manager makes URLs of this address.
  if (!isNodeAddress(cmd.node.address)) return { ok: false, code: 'bad-command', message: `node ${cmd.node.id}: address ${JSON.stringify(String(cmd.node.address).slice(0, 80))} is not host:port` };
  const prev = m.nodes.get(cmd.node.id);
  const n: NodeRecord = {
    ...cmd.node,
    availability: prev?.availability ?? 'active',
    status: 'ready',
    createdAt: prev?.createdAt ?? cmd.ts,
    updatedAt: cmd.ts,
  };
  m.nodes.set(n.id, n);
  m.touchNode(n.id);
  return { ok: true, tasks: 0 };
}

export function setNodeAvailability(m: ClusterModel, cmd: CommandOf<'node.availability'>): ClusterResult {
  const n = m.nodes.get(cmd.nodeId);
  if (!n) return { ok: false, code: 'not-found', message: `node ${cmd.nodeId} does not exist` };
  if (n.availability !== cmd.availability) {
    n.availability = cmd.availability;
    n.updatedAt = cmd.ts;
    m.touchNode(n.id);
  }
  return { ok: true, tasks: 0 };
}

export function setNodeStatus(m: ClusterModel, cmd: CommandOf<'node.status'>): ClusterResult {
  let lost = 0;
  for (const x of cmd.nodes) {
    const n = m.nodes.get(x.id);
    if (!n || n.status === x.status) continue;
    n.status = x.status;
    n.updatedAt = cmd.ts;
    if (x.status !== 'down') continue;
    // Its tasks are lost: the reconciler replaces them elsewhere. If the node comes back, its
    // worker no longer finds them assigned and removes their containers.
    lost += loseTasksOf(m, n, `node ${n.name} stopped answering`, cmd.ts);
    m.touchNode(n.id);
  }
  return { ok: true, tasks: lost };
}

export function removeNode(m: ClusterModel, cmd: CommandOf<'node.remove'>): ClusterResult {
  const n = m.nodes.get(cmd.nodeId);
  if (!n) return { ok: false, code: 'not-found', message: `no node ${cmd.nodeId}` };
  const lost = loseTasksOf(m, n, `node ${n.name} was removed from the cluster`, cmd.ts);
  m.nodes.delete(n.id);
  m.removedNodes.add(n.id);
  m.touchNode(n.id);
  return { ok: true, tasks: lost };
}

/** Marks the unfinished tasks on a node lost, with `error` saying why; returns how many. */
function loseTasksOf(m: ClusterModel, n: NodeRecord, error: string, ts: number): number {
  let lost = 0;
  for (const id of m.byNode.get(n.id) ?? []) {
    const t = m.tasks.get(id);
    if (!t || t.nodeId !== n.id || TERMINAL.has(t.state)) continue;
    t.state = 'lost';
    t.error = error;
    t.updatedAt = ts;
    lost++;
  }
  return lost;
}
