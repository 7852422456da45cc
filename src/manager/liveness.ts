// Node liveness, on the leader, in memory: heartbeats and live usage stay out of the log; only
// transitions (ready -> down, down -> ready) are proposed. A new leader gives every ready node a
// fresh grace period before it may declare one down, so a failover never marks healthy nodes down;
// a down node comes back only when this leader hears from it. A node down for longer than
// `removeAfterMs` (by its record's updatedAt, set when it went down) is removed from the state.
import type { Usage } from '../api/nodes.js';
import type { ManagerContext } from './context.js';
import { newId } from './ids.js';
import { ManagerState } from './state/machine.js';

export class Liveness {
  private readonly lastSeen = new Map<string, number>();
  readonly usage = new Map<string, Usage>();
  private timer: NodeJS.Timeout | null = null;
  private leading = false;
  private busy = false;

  constructor(
    private readonly ctx: ManagerContext,
    /** Missing this many heartbeat periods makes a node down. */
    readonly heartbeatMs: number,
    readonly missed = 3,
    /** A node down this long is removed (node.remove); 0: never. */
    private readonly removeAfterMs = 0,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), Math.max(50, Math.floor(this.heartbeatMs / 4)));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  seen(nodeId: string, usage: Usage | null): void {
    this.lastSeen.set(nodeId, Date.now());
    if (usage) this.usage.set(nodeId, usage);
  }

  private async check(): Promise<void> {
    const { node, state } = this.ctx;
    if (!node.isReadyLeader()) {
      this.leading = false;
      return;
    }
    const now = Date.now();
    if (!this.leading) {
      // Fresh grace for every ready node: this leader has not been receiving their heartbeats. A
      // down node gets none: it has to be heard from again, or every failover would bring it back
      // (and restart its clock towards removal).
      this.leading = true;
      this.lastSeen.clear();
      for (const n of state.cluster.nodes.values()) if (n.status === 'ready') this.lastSeen.set(n.id, now);
      return;
    }
    if (this.busy) return;
    const changes: { id: string; status: 'ready' | 'down' }[] = [];
    let remove: string | null = null;
    for (const n of state.cluster.nodes.values()) {
      // A node registered since this leader took over was heard from (register calls seen()).
      if (!this.lastSeen.has(n.id) && n.status === 'ready') this.lastSeen.set(n.id, now);
      const alive = now - (this.lastSeen.get(n.id) ?? -Infinity) <= this.missed * this.heartbeatMs;
      if (n.status === 'ready' && !alive) changes.push({ id: n.id, status: 'down' });
      else if (n.status === 'down' && alive) changes.push({ id: n.id, status: 'ready' });
      else if (n.status === 'down' && this.removeAfterMs > 0 && now - n.updatedAt >= this.removeAfterMs) remove ??= n.id;
    }
    if (changes.length === 0 && remove === null) return;
    this.busy = true;
    try {
      if (changes.length > 0) await node.propose(ManagerState.encode({ op: 'node.status', ts: now, nodes: changes, id: newId() }));
      // One at a time: removals are rare, and each is its own command (and event).
      else if (remove !== null) {
        await node.propose(ManagerState.encode({ op: 'node.remove', ts: now, nodeId: remove, id: `node.remove.${remove}` }));
        this.lastSeen.delete(remove);
        this.usage.delete(remove);
      }
    } catch {
      // Leadership lost or outcome unknown: the next check looks again.
    } finally {
      this.busy = false;
    }
  }
}
