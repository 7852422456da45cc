// What the workers' heartbeats tell this manager, in memory: when each node was last heard from and
// its live usage. Heartbeats and usage stay out of the log; the routes record them here (on
// whichever manager serves them), and the leader's node-liveness duty (leader/node-liveness.ts)
// proposes the transitions they imply.
import type { Usage } from '../api/nodes.js';

export class Liveness {
  /** Node id -> Date.now() when it was last heard from. */
  readonly lastSeen = new Map<string, number>();
  readonly usage = new Map<string, Usage>();

  constructor(
    /** Missing this many heartbeat periods makes a node down. */
    readonly heartbeatMs: number,
    readonly missed = 3,
  ) {}

  seen(nodeId: string, usage: Usage | null): void {
    this.lastSeen.set(nodeId, Date.now());
    if (usage) this.usage.set(nodeId, usage);
  }

  /** Whether `nodeId` was heard from within the last `missed` heartbeat periods. */
  alive(nodeId: string, now: number): boolean {
    return now - (this.lastSeen.get(nodeId) ?? -Infinity) <= this.missed * this.heartbeatMs;
  }

  forget(nodeId: string): void {
    this.lastSeen.delete(nodeId);
    this.usage.delete(nodeId);
  }
}
