// Faults injected on purpose, for the chaos suite only: a manager started with `--chaos` accepts
// PUT /chaos/faults and then drops Raft messages to or from chosen peers (the transport's part,
// src/raft/faults.ts) and refuses chosen workers (the worker routes' part, here). Without that flag
// there is no such object at all.
import { RaftFaults, type RaftFaultSpec } from '../raft/faults.js';

export interface FaultSpec extends RaftFaultSpec {
  /** Worker node ids whose requests this manager refuses (as if unreachable). */
  isolateWorkers?: string[];
}

export class NetworkFaults extends RaftFaults {
  private workers = new Set<string>();

  override set(f: FaultSpec): void {
    super.set(f);
    this.workers = new Set(f.isolateWorkers ?? []);
  }

  override get(): Required<FaultSpec> {
    return { ...super.get(), isolateWorkers: [...this.workers] };
  }

  workerIsolated(nodeId: string): boolean {
    return this.workers.has(nodeId);
  }
}
