// Node liveness, on the leader, in memory: heartbeats and live usage stay out of the log; only
// transitions (ready -> down, down -> ready) are proposed. A new leader gives every node a fresh
// grace period before it may declare one down, so a failover never marks healthy nodes down.
import type { ManagerContext } from './context.js';
import { newId } from './ids.js';
import { ManagerState } from './state/machine.js';

export interface Usage {
  cpu: number;
  memory: number;
  load: number;
}

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
      // Fresh grace for everyone: this leader has not been receiving their heartbeats.
      this.leading = true;
      for (const id of state.cluster.nodes.keys()) this.lastSeen.set(id, now);
      return;
    }
    if (this.busy) return;
    const changes: { id: string; status: 'ready' | 'down' }[] = [];
    for (const n of state.cluster.nodes.values()) {
      const seen = this.lastSeen.get(n.id) ?? now;
      if (!this.lastSeen.has(n.id)) this.lastSeen.set(n.id, now);
      const alive = now - seen <= this.missed * this.heartbeatMs;
      if (n.status === 'ready' && !alive) changes.push({ id: n.id, status: 'down' });
      else if (n.status === 'down' && alive) changes.push({ id: n.id, status: 'ready' });
    }
    if (changes.length === 0) return;
    this.busy = true;
    try {
      await node.propose(ManagerState.encode({ op: 'node.status', ts: now, nodes: changes, id: newId() }));
    } catch {
      // Leadership lost or outcome unknown: the next check looks again.
    } finally {
      this.busy = false;
    }
  }
}
