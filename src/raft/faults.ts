// Raft network faults injected on purpose, for the chaos suite only: the transport drops Raft
// messages to or from chosen peers (each direction on its own, so partitions can be one-way). The
// manager sets them (src/manager/faults.ts, PUT /chaos/faults on a manager started with --chaos);
// without that flag the transport has none, and each check is a lookup in an empty set.
import type { NodeId } from './core/types.js';

export interface RaftFaultSpec {
  /** Raft messages this manager sends to these peers are lost. */
  dropTo?: NodeId[];
  /** Raft messages from these peers are lost on arrival. */
  dropFrom?: NodeId[];
}

export class RaftFaults {
  private dropTo = new Set<NodeId>();
  private dropFrom = new Set<NodeId>();

  set(f: RaftFaultSpec): void {
    this.dropTo = new Set(f.dropTo ?? []);
    this.dropFrom = new Set(f.dropFrom ?? []);
  }

  get(): Required<RaftFaultSpec> {
    return { dropTo: [...this.dropTo], dropFrom: [...this.dropFrom] };
  }

  canSendTo(peer: NodeId): boolean {
    return !this.dropTo.has(peer);
  }

  canReceiveFrom(peer: NodeId): boolean {
    return !this.dropFrom.has(peer);
  }
}
