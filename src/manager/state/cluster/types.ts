// The shapes of the replicated services, tasks and nodes, and of the commands that change them.
// Kept together so that moving these declarations to the API contract (src/api) is one change.
import type { ServiceSpec } from '../../../spec/index.js';

/** A Docker container id, full or cut short: what a worker may report as a task's container. */
export const CONTAINER_ID = /^[a-f0-9]{12,64}$/;

export type TaskState = 'pending' | 'assigned' | 'starting' | 'running' | 'complete' | 'failed' | 'shutdown' | 'lost';
export const TERMINAL: ReadonlySet<TaskState> = new Set(['complete', 'failed', 'shutdown', 'lost']);

export interface Service {
  id: string;
  name: string;
  spec: ServiceSpec;
  /** Grows by one for every change of the spec. */
  version: number;
  /** Grows only when what a task runs changes (not for replicas or update settings): a scale is not a redeploy. */
  taskVersion: number;
  /** "stopped": `orch stop` asked for all its tasks to shut down. */
  state: 'active' | 'stopped';
  /**
   * The spec each task version runs, by taskVersion: the current one, the one a rollback would
   * return to, and any a live task still runs (a worker needs it to start it or to check its health).
   */
  specs: Record<string, ServiceSpec>;
  /** The highest taskVersion ever given out: a rollback reuses an old number, a new spec never does. */
  maxTaskVersion: number;
  /** The last rolling update, while it runs and after it ended; null before the first. */
  update: UpdateStatus | null;
  createdAt: number;
  updatedAt: number;
}

/**
 * A rolling update from one task version to another. `updating` and `rolling-back` are driven by the
 * leader's reconciler; `paused` waits for a person (a new spec or `orch update --rollback`).
 */
export interface UpdateStatus {
  state: 'updating' | 'paused' | 'completed' | 'rolling-back' | 'rolled-back';
  from: number;
  to: number;
  startedAt: number;
  updatedAt: number;
  message: string | null;
}

export type UpdateAction = 'complete' | 'pause' | 'rollback';

export interface Task {
  id: string;
  serviceId: string;
  serviceName: string;
  slot: number;
  /** The service's taskVersion this task runs. */
  version: number;
  nodeId: string | null;
  desired: 'running' | 'shutdown';
  state: TaskState;
  containerId: string | null;
  exitCode: number | null;
  error: string | null;
  /** Why a pending task is not placed yet, for `orch get`. */
  reason: string | null;
  /** Failures in a row of this slot before this task (the restart policy counts them). */
  restarts: number;
  /** When it was reported running; a rolling update monitors it from then. */
  runningAt: number | null;
  /** Its health check's verdict; null when the service has none. */
  health: 'starting' | 'healthy' | 'unhealthy' | null;
  createdAt: number;
  updatedAt: number;
}

export interface NodeRecord {
  id: string;
  name: string;
  address: string;
  labels: Record<string, string>;
  capacity: { cpu: number; memory: number; disk: number };
  availability: 'active' | 'pause' | 'drain';
  status: 'ready' | 'down';
  createdAt: number;
  updatedAt: number;
}

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
  | { op: 'node.register'; ts: number; node: { id: string; name: string; address: string; labels: Record<string, string>; capacity: { cpu: number; memory: number; disk: number } } }
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

/** What a worker tells about one of its tasks. */
export interface TaskReport {
  taskId: string;
  state: 'starting' | 'running' | 'complete' | 'failed' | 'shutdown';
  containerId?: string | null;
  exitCode?: number | null;
  error?: string | null;
  health?: 'starting' | 'healthy' | 'unhealthy';
}

export type ClusterResult =
  | { ok: true; created: boolean; changed: boolean; service: Service }
  | { ok: true; stopped: true; service: Service; tasks: number }
  | { ok: true; tasks: number }
  | { ok: true; update: UpdateStatus | null; service: Service }
  | { ok: false; code: 'not-found' | 'version-mismatch' | 'bad-command'; message: string };
