// Services, tasks and nodes in the replicated state. Everything here is applied from committed
// commands in log order on every manager, so it is deterministic: ids and timestamps come inside
// the commands (chosen by the proposer), never from this code.
// The parts live in cluster/: the shapes (types.ts), the data and its indexes (model.ts), the apply
// functions per aggregate (services.ts, tasks.ts, nodes.ts) and the snapshot codec (codec.ts).
// This class puts them together; importers use it and the names re-exported here.
import { decodeCluster, encodeCluster, upgradePlain, type CompactClusterState } from './cluster/codec.js';
import { ClusterModel, type PlainClusterState } from './cluster/model.js';
import { registerNode, removeNode, setNodeAvailability, setNodeStatus } from './cluster/nodes.js';
import { stopService, updateService, upsertService } from './cluster/services.js';
import { assignTasks, createTasks, removeTasks, reportTasks, shutdownTasks } from './cluster/tasks.js';
import type { ClusterCommand, ClusterResult } from './cluster/types.js';

export { CONTAINER_ID, TERMINAL } from './cluster/types.js';
export type { ClusterCommand, ClusterResult, NewTask, NodeRecord, Service, Task, TaskReport, TaskState, UpdateAction, UpdateStatus } from './cluster/types.js';
export type { CompactClusterState } from './cluster/codec.js';
export { specOf, taskSpec } from './cluster/services.js';

export class ClusterState extends ClusterModel {
  apply(cmd: ClusterCommand): ClusterResult {
    this.revision++;
    switch (cmd.op) {
      case 'service.upsert':
        return upsertService(this, cmd);
      case 'service.stop':
        return stopService(this, cmd);
      case 'service.update':
        return updateService(this, cmd);
      case 'task.create':
        return createTasks(this, cmd);
      case 'task.remove':
        return removeTasks(this, cmd);
      case 'task.shutdown':
        return shutdownTasks(this, cmd);
      case 'task.assign':
        return assignTasks(this, cmd);
      case 'task.report':
        return reportTasks(this, cmd);
      case 'node.register':
        return registerNode(this, cmd);
      case 'node.availability':
        return setNodeAvailability(this, cmd);
      case 'node.status':
        return setNodeStatus(this, cmd);
      case 'node.remove':
        return removeNode(this, cmd);
      default:
        return { ok: false, code: 'bad-command', message: `unknown command ${(cmd as { op: string }).op}` };
    }
  }

  /** The state for a snapshot, in the compact form (see encodeCluster). */
  encode(): CompactClusterState {
    return encodeCluster(this);
  }

  /** Restores what encode() gave. */
  decode(s: CompactClusterState): void {
    this.restore(decodeCluster(s));
  }

  /** Restores the plain form (toJSON's, snapshot format v3), filling in what older versions lack. */
  restore(s: PlainClusterState): void {
    this.load(upgradePlain(s));
  }
}
