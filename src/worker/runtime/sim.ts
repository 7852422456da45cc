// A simulated runtime: it accepts tasks, reports them running and runs nothing. With --sim-nodes,
// one process hosts many such nodes, so a thousand nodes fit on one machine for the scheduler's
// tests and benchmarks.
import { randomBytes } from 'node:crypto';
import type { Runtime, RuntimeContainer, TaskToRun } from './runtime.js';

export class SimRuntime implements Runtime {
  readonly checksHealth = false;
  private readonly containers = new Map<string, string>(); // containerId -> taskId

  async list(): Promise<RuntimeContainer[]> {
    return [...this.containers].map(([containerId, taskId]) => ({ containerId, taskId, running: true, exitCode: null }));
  }

  async start(task: TaskToRun): Promise<string> {
    const id = randomBytes(32).toString('hex');
    this.containers.set(id, task.id);
    return id;
  }

  async remove(containerId: string): Promise<void> {
    this.containers.delete(containerId);
  }

  async endpoint(): Promise<null> {
    return null;
  }

  async exec(): Promise<{ exitCode: number; output: string }> {
    return { exitCode: 0, output: '' };
  }

  async watch(): Promise<() => void> {
    return () => undefined; // simulated containers never exit by themselves
  }
}
