import type { ServiceSpec } from '../../spec/index.js';

/**
 * The engine could not be reached (dockerd down or restarting): this says nothing about the
 * container, so a health check does not count it as a failed probe.
 */
export class EngineUnreachable extends Error {}

/** One container that orch started, as found on the engine. */
export interface RuntimeContainer {
  containerId: string;
  taskId: string;
  running: boolean;
  exitCode: number | null;
}

export interface TaskToRun {
  id: string;
  serviceName: string;
  slot: number;
  spec: ServiceSpec;
}

/** A container runtime behind one interface (Docker today; a simulated one for scale tests later). */
export interface Runtime {
  /** Every container of this node that orch started, running or not. */
  list(): Promise<RuntimeContainer[]>;
  /** Creates and starts a task's container; resolves with its id, or rejects with a message a user can act on. */
  start(task: TaskToRun): Promise<string>;
  /** Stops (with a grace period) and removes a container; a missing one is not an error. */
  remove(containerId: string): Promise<void>;
  /** Where the worker reaches a port of a running container (for health checks); null if nowhere. */
  endpoint(containerId: string, port: number): Promise<{ host: string; port: number } | null>;
  /**
   * Runs a command inside a running container, giving up after timeoutMs (exit code -1). Like
   * endpoint, rejects with EngineUnreachable when the engine cannot be reached.
   */
  exec(containerId: string, command: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }>;
  /** False for a runtime whose containers run nothing: their health is taken as good. */
  readonly checksHealth: boolean;
  /** Calls back when a container of this node exits (from the engine's event stream). */
  watch(onExit: (taskId: string, containerId: string, exitCode: number) => void): Promise<() => void>;
}
