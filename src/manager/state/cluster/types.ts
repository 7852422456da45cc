// The shapes of the replicated services, tasks and nodes, and of the commands that change them.
// The stored shapes come from the API contract (src/api); the commands and their results are the state's own.
import type { ServiceSpec } from '../../../spec/index.js';
import type { NodeRegistration, NodeRecord } from '../../../api/nodes.js';
import type { Service, UpdateStatus } from '../../../api/services.js';
import { TERMINAL, type Task, type TaskReport, type TaskState } from '../../../api/tasks.js';

// The stored shapes are the API's (src/api): one definition for the state, the routes and clients.
export type { NodeRecord, Service, Task, TaskReport, TaskState, UpdateStatus };
export { TERMINAL };

/** A Docker container id, full or cut short: what a worker may report as a task's container. */
export const CONTAINER_ID = /^[a-f0-9]{12,64}$/;

export type UpdateAction = 'complete' | 'pause' | 'rollback';

export type ClusterCommand =
  | { op: 'service.upsert'; ts: number; serviceId: string; spec: ServiceSpec; expectVersion?: number }
  | { op: 'service.stop'; ts: number; service: string }
  | { op: 'service.update'; ts: number; serviceId: string; to: number; action: UpdateAction; message: string | null }
  | { op: 'task.create'; ts: number; tasks: NewTask[] }
  | { op: 'task.remove'; ts: number; ids: string[] }
  | { op: 'node.availability'; ts: number; nodeId: string; availability: NodeRecord['availability'] }
  /** Removes a node for good: its tasks are lost (and replaced), its certificate is refused from now on. */
  | { op: 'node.remove'; ts: number; nodeId: string }
  | { op: 'task.shutdown'; ts: number; ids: string[]; terminal?: string[] }
  | { op: 'node.register'; ts: number; node: NodeRegistration }
  | { op: 'node.status'; ts: number; nodes: { id: string; status: 'ready' | 'down' }[] }
  | { op: 'task.assign'; ts: number; assignments: { taskId: string; nodeId: string }[]; unplaced?: { taskId: string; reason: string }[] }
  | { op: 'task.report'; ts: number; nodeId: string; reports: TaskReport[] };

/** One command of the given op. */
export type CommandOf<Op extends ClusterCommand['op']> = Extract<ClusterCommand, { op: Op }>;

export interface NewTask {
  id: string;
  serviceId: string;
  slot: number;
  version: number;
  /** Failures in a row of the slot so far; absent means none. */
  restarts?: number;
}

export type ClusterResult =
  | { ok: true; created: boolean; changed: boolean; service: Service }
  | { ok: true; stopped: true; service: Service; tasks: number }
  | { ok: true; tasks: number }
  | { ok: true; update: UpdateStatus | null; service: Service }
  | { ok: false; code: 'not-found' | 'version-mismatch' | 'bad-command'; message: string };
