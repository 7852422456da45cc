// The cluster's replicated data (services, tasks, nodes) and the indexes kept beside it. The apply
// functions (services.ts, tasks.ts, nodes.ts) change it; the codec (codec.ts) writes and reads it.
import { TERMINAL, type NodeRecord, type Service, type Task } from './types.js';

/** What the model holds, as plain data: what restore() takes and the v3 snapshot form. */
export interface PlainClusterState {
  services: Service[];
  tasks: Task[];
  nodes: NodeRecord[];
  removedNodes?: string[];
  revision: number;
  assignVersion: [string, number][];
}

export class ClusterModel {
  readonly services = new Map<string, Service>();
  /** Service ids by name (an index). Internal: for the apply functions. */
  readonly byName = new Map<string, string>();
  readonly tasks = new Map<string, Task>();
  readonly nodes = new Map<string, NodeRecord>();
  /** Ids of removed nodes: their certificates are revoked, and they may not register again. */
  readonly removedNodes = new Set<string>();
  /** Bumped on every change: watchers (the reconciler, `--wait`) compare it. */
  revision = 0;
  /** Per node, bumped when its set of assigned tasks or their desired states change (long-poll). */
  readonly assignVersion = new Map<string, number>();
  /**
   * Task ids by node (every task ever assigned there and still in the state): an index, not state.
   * Internal: for the apply functions.
   */
  readonly byNode = new Map<string, Set<string>>();

  /** Tells a node's long-poll that its assignments changed. Internal: for the apply functions. */
  touchNode(nodeId: string | null): void {
    if (nodeId) this.assignVersion.set(nodeId, (this.assignVersion.get(nodeId) ?? 0) + 1);
  }

  /** Adds a task to the index of its node. Internal: for the apply functions. */
  indexTask(t: Task): void {
    if (!t.nodeId) return;
    let set = this.byNode.get(t.nodeId);
    if (!set) this.byNode.set(t.nodeId, (set = new Set()));
    set.add(t.id);
  }

  /** Ids of the tasks ever assigned to a node and still in the state (an index). */
  taskIdsOn(nodeId: string): Iterable<string> {
    return this.byNode.get(nodeId) ?? [];
  }

  /** The tasks a node should know about: assigned to it and not finished. */
  assignmentsOf(nodeId: string): Task[] {
    const out: Task[] = [];
    const ids = this.byNode.get(nodeId);
    if (!ids) return out;
    for (const id of ids) {
      const t = this.tasks.get(id);
      if (!t || t.nodeId !== nodeId) ids.delete(id);
      else if (!TERMINAL.has(t.state)) out.push(t);
    }
    return out;
  }

  findService(idOrName: string): Service | undefined {
    return this.services.get(idOrName) ?? this.services.get(this.byName.get(idOrName) ?? '');
  }

  tasksOf(serviceId: string): Task[] {
    const out: Task[] = [];
    for (const t of this.tasks.values()) if (t.serviceId === serviceId) out.push(t);
    return out;
  }

  toJSON(): unknown {
    return { services: [...this.services.values()], tasks: [...this.tasks.values()], nodes: [...this.nodes.values()], removedNodes: [...this.removedNodes], revision: this.revision, assignVersion: [...this.assignVersion] };
  }

  /** Replaces everything with `s` (already upgraded to the current shapes) and rebuilds the indexes. */
  load(s: PlainClusterState): void {
    this.services.clear();
    this.byName.clear();
    this.tasks.clear();
    this.nodes.clear();
    for (const svc of s.services) {
      this.services.set(svc.id, svc);
      this.byName.set(svc.name, svc.id);
    }
    this.byNode.clear();
    for (const t of s.tasks) {
      this.tasks.set(t.id, t);
      this.indexTask(t);
    }
    for (const n of s.nodes) this.nodes.set(n.id, n);
    this.removedNodes.clear();
    for (const id of s.removedNodes ?? []) this.removedNodes.add(id);
    this.revision = s.revision;
    this.assignVersion.clear();
    for (const [k, v] of s.assignVersion) this.assignVersion.set(k, v);
  }
}
