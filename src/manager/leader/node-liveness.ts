// Node liveness, the leader's part: only transitions (ready -> down, down -> ready) are proposed. A
// new leader gives every ready node a fresh grace period before it may declare one down, so a
// failover never marks healthy nodes down; a down node comes back only when this leader hears from
// it. A node down for longer than `removeAfterMs` (by its record's updatedAt, set when it went down)
// is removed from the state.
import type { ManagerContext } from '../context.js';
import { newId } from '../ids.js';
import type { Liveness } from '../liveness.js';
import { ManagerState } from '../state/machine.js';
import type { IntervalDuty } from './runner.js';

export function nodeLiveness(ctx: ManagerContext, heartbeats: Liveness, removeAfterMs = 0): IntervalDuty {
  const { node, state } = ctx;
  return {
    name: 'node liveness',
    everyMs: Math.max(50, Math.floor(heartbeats.heartbeatMs / 4)),
    begin: () => {
      // This leader has not been receiving the heartbeats. A down node gets no grace: it has to be
      // heard from again, or every failover would bring it back (and restart its clock towards removal).
      const now = Date.now();
      heartbeats.lastSeen.clear();
      for (const n of state.cluster.nodes.values()) if (n.status === 'ready') heartbeats.lastSeen.set(n.id, now);
    },
    run: () => {
      const now = Date.now();
      const changes: { id: string; status: 'ready' | 'down' }[] = [];
      let remove: string | null = null;
      for (const n of state.cluster.nodes.values()) {
        // A node registered since this leader took over was heard from (register calls seen()).
        if (!heartbeats.lastSeen.has(n.id) && n.status === 'ready') heartbeats.lastSeen.set(n.id, now);
        const alive = heartbeats.alive(n.id, now);
        if (n.status === 'ready' && !alive) changes.push({ id: n.id, status: 'down' });
        else if (n.status === 'down' && alive) changes.push({ id: n.id, status: 'ready' });
        else if (n.status === 'down' && removeAfterMs > 0 && now - n.updatedAt >= removeAfterMs) remove ??= n.id;
      }
      if (changes.length > 0) return node.propose(ManagerState.encode({ op: 'node.status', ts: now, nodes: changes, id: newId() }));
      // One at a time: removals are rare, and each is its own command (and event).
      if (remove !== null) {
        const id = remove;
        return node.propose(ManagerState.encode({ op: 'node.remove', ts: now, nodeId: id, id: `node.remove.${id}` })).then(() => heartbeats.forget(id));
      }
      return null;
    },
  };
}
