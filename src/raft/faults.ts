// Network faults injected on purpose, for the chaos suite only: a manager started with `--chaos`
// accepts PUT /chaos/faults and then drops Raft messages to or from chosen peers (each direction
// on its own, so partitions can be one-way) and refuses chosen workers. Without that flag this
// object stays empty and every check is a set lookup on an empty set.
import type { NodeId } from './core/types.js';

export interface FaultSpec {
  /** Raft messages this manager sends to these peers are lost. */
  dropTo?: NodeId[];
  /** Raft messages from these peers are lost on arrival. */
  dropFrom?: NodeId[];
  /** Worker node ids whose requests this manager refuses (as if unreachable). */
  isolateWorkers?: string[];
}

export class NetworkFaults {
  private dropTo = new Set<NodeId>();
  private dropFrom = new Set<NodeId>();
  private workers = new Set<string>();

  set(f: FaultSpec): void {
    this.dropTo = new Set(f.dropTo ?? []);
    this.dropFrom = new Set(f.dropFrom ?? []);
    this.workers = new Set(f.isolateWorkers ?? []);
  }

  get(): Required<FaultSpec> {
    return { dropTo: [...this.dropTo], dropFrom: [...this.dropFrom], isolateWorkers: [...this.workers] };
  }

  canSendTo(peer: NodeId): boolean {
    return !this.dropTo.has(peer);
  }

  canReceiveFrom(peer: NodeId): boolean {
    return !this.dropFrom.has(peer);
  }

  workerIsolated(nodeId: string): boolean {
    return this.workers.has(nodeId);
  }
}
