// Faults injected on purpose, for the chaos suite only: a manager started with `--chaos` accepts
// PUT /chaos/faults and then drops Raft messages to or from chosen peers (the transport's part,
// src/raft/faults.ts) and refuses chosen workers (the worker routes' part, here). Without that flag
// there is no such object at all.
import type { FaultSpec, FaultsInForce } from '../api/chaos.js';
import { RaftFaults } from '../raft/faults.js';

export class NetworkFaults extends RaftFaults {
  private workers = new Set<string>();

  override set(f: FaultSpec): void {
    super.set(f);
    this.workers = new Set(f.isolateWorkers ?? []);
  }

  override get(): FaultsInForce {
    return { ...super.get(), isolateWorkers: [...this.workers] };
  }

  workerIsolated(nodeId: string): boolean {
    return this.workers.has(nodeId);
  }
}
