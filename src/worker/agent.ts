// The worker's agent: it long-polls the leader for this node's assignments, makes the containers
// match them, and reports every transition (batched, in heartbeats). Assignments from an older
// leader term are ignored; containers whose task is not assigned here any more are removed, so a
// healed partition never leaves two copies running.
import type { Assignment, OrchClient } from '../client/client.js';
import { HealthMonitor } from './health.js';
import type { UsageSampler } from './resources.js';
import type { Runtime, RuntimeContainer } from './runtime/runtime.js';

export interface Report {
  taskId: string;
  state: 'starting' | 'running' | 'complete' | 'failed' | 'shutdown';
  containerId?: string | null;
  exitCode?: number | null;
  error?: string | null;
  health?: 'starting' | 'healthy' | 'unhealthy';
}

export interface AgentOptions {
  heartbeatMs: number;
  /** How long one assignment long-poll may wait on the leader. */
  pollMs?: number;
  log: (msg: string) => void;
}

const TERMINAL = new Set(['complete', 'failed', 'shutdown', 'lost']);

export class Agent {
  private reports: Report[] = [];
  private running = false;
  private term = 0;
  private version = -1;
  private tasks: Assignment[] = [];
  /** Containers being stopped on purpose: their exit is not a failure. */
  private readonly stopping = new Set<string>();
  /** Tasks whose start is in progress or failed here (never started twice). */
  private readonly started = new Set<string>();
  /** Health checks of running containers, by task. */
  private readonly monitors = new Map<string, HealthMonitor>();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private unwatch: (() => void) | null = null;
  private reconciling: Promise<void> = Promise.resolve();
  private flushing = false;
  /** A heartbeat without reports is on its way (see beat). */
  private beating = false;
  /** The managers answered: for logs, one line per change. */
  private connected = true;

  constructor(
    private readonly client: OrchClient,
    private readonly runtime: Runtime,
    readonly nodeId: string,
    private readonly usage: UsageSampler,
    private readonly opts: AgentOptions,
  ) {}

  async start(): Promise<void> {
    this.running = true;
    this.unwatch = await this.runtime.watch((taskId, containerId, exitCode) => this.onExit(taskId, containerId, exitCode));
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.opts.heartbeatMs);
    void this.pollLoop();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.unwatch?.();
    for (const m of this.monitors.values()) m.stop();
    this.monitors.clear();
    await this.reconciling;
    await this.flush();
  }

  private report(r: Report): void {
    this.reports.push(r);
    // Our copy follows what we report: a manager answers "unchanged" to a poll until an assignment
    // changes, and a copy still saying "assigned" would have us report "running" again every poll.
    const t = this.tasks.find((x) => x.id === r.taskId);
    if (t) {
      t.state = r.state;
      if (r.containerId) t.containerId = r.containerId;
    }
  }

  /**
   * Every heartbeat period: the reports gathered since the last one, or, while the previous one
   * still waits for its reports to commit, a heartbeat without reports.
   */
  heartbeat(): Promise<void> {
    return this.flushing ? this.beat() : this.flush();
  }

  /** Sends the heartbeat with every report gathered since the last one (unless one is on its way). */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    const batch = this.reports;
    this.reports = [];
    try {
      const res = await this.client.heartbeat(this.nodeId, { usage: this.usage.latest, reports: batch });
      this.client.setManagers(res.managers);
      if (!this.connected) this.opts.log('reconnected to the managers');
      this.connected = true;
    } catch (err) {
      // Not lost: sent again with the next heartbeat (reports only move tasks forward).
      this.reports = batch.concat(this.reports);
      if (this.connected) this.opts.log(`heartbeat failed: ${(err as Error).message}`);
      this.connected = false;
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Liveness must not wait on the log: a heartbeat carrying reports is answered once they commit,
   * which under load (1,000 nodes reporting 100,000 tasks at once) took longer than the 3 missed
   * heartbeats that make a node down. Nodes were declared down and their tasks rescheduled while
   * they were fine. The leader answers this one without proposing anything (as swarm's dispatcher
   * and Nomad keep heartbeats apart from task status updates).
   */
  private async beat(): Promise<void> {
    if (this.beating) return;
    this.beating = true;
    try {
      await this.client.heartbeat(this.nodeId, { usage: this.usage.latest, reports: [] });
    } catch {
      // The next one, or the pending flush, will tell.
    } finally {
      this.beating = false;
    }
  }

  private async pollLoop(): Promise<void> {
    while (this.running) {
      try {
        const a = await this.client.assignments(this.nodeId, this.version, this.opts.pollMs ?? 3000);
        if (a.term < this.term) continue; // an answer from a deposed leader
        this.term = a.term;
        this.version = a.version;
        if (!a.unchanged) this.tasks = a.tasks ?? [];
        this.reconciling = this.reconcile();
        await this.reconciling;
      } catch (err) {
        if (this.running) this.opts.log(`assignments: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** Makes the containers on this node match the assignments. */
  private async reconcile(): Promise<void> {
    const containers = await this.runtime.list();
    const byTask = new Map<string, RuntimeContainer>();
    for (const c of containers) byTask.set(c.taskId, c);
    const assigned = new Set<string>();
    const work: Promise<void>[] = [];
    for (const t of this.tasks) {
      assigned.add(t.id);
      const c = byTask.get(t.id);
      if (t.desired === 'shutdown') {
        if (c) work.push(this.removeContainer(c.containerId).then(() => this.report({ taskId: t.id, state: 'shutdown', exitCode: c.exitCode })));
        else if (!TERMINAL.has(t.state)) this.report({ taskId: t.id, state: 'shutdown' });
        continue;
      }
      if (!c) {
        // Not awaited: a start waiting on a slow or hanging image pull must not hold back the other
        // tasks' starts and stops, nor the next assignments (startTask reports and flushes itself).
        if (t.state === 'assigned' && !this.started.has(t.id)) void this.startTask(t);
        else if ((t.state === 'starting' || t.state === 'running') && !this.started.has(t.id)) {
          this.report({ taskId: t.id, state: 'failed', error: 'the container is gone (removed outside orch?)' });
        }
        continue;
      }
      if (c.running) {
        if (t.state !== 'running') this.report({ taskId: t.id, state: 'running', containerId: c.containerId });
        this.watchHealth(t, c.containerId); // a container found again after a restart of this worker
      } else if (!TERMINAL.has(t.state) && c.exitCode !== null && !Number.isNaN(c.exitCode)) {
        this.report({ taskId: t.id, state: c.exitCode === 0 ? 'complete' : 'failed', containerId: c.containerId, exitCode: c.exitCode, error: c.exitCode === 0 ? null : `exited with code ${c.exitCode}` });
      }
    }
    // Containers whose task is not (or no longer) assigned here: moved away, finished, or unknown.
    for (const c of containers) {
      if (!assigned.has(c.taskId)) work.push(this.removeContainer(c.containerId));
    }
    for (const [taskId, m] of this.monitors) {
      if (this.tasks.some((t) => t.id === taskId && t.desired === 'running')) continue;
      m.stop();
      this.monitors.delete(taskId);
    }
    await Promise.all(work);
    if (this.reports.length) await this.flush();
  }

  private async startTask(t: Assignment): Promise<void> {
    this.started.add(t.id);
    if (!t.spec) {
      this.report({ taskId: t.id, state: 'failed', error: 'the service of this task no longer exists' });
      return;
    }
    this.report({ taskId: t.id, state: 'starting' });
    try {
      const containerId = await this.runtime.start({ id: t.id, serviceName: t.serviceName, slot: t.slot, spec: t.spec });
      this.report({ taskId: t.id, state: 'running', containerId });
      this.watchHealth(t, containerId);
    } catch (err) {
      this.report({ taskId: t.id, state: 'failed', error: (err as Error).message });
    }
    void this.flush();
  }

  /** Starts the task's health check, if its service has one and none runs yet. */
  private watchHealth(t: Assignment, containerId: string): void {
    const check = t.spec?.healthCheck;
    if (!check || this.monitors.has(t.id) || t.desired !== 'running') return;
    if (!this.runtime.checksHealth) {
      if (t.state !== 'running') this.report({ taskId: t.id, state: 'running', containerId, health: 'healthy' });
      return;
    }
    const m = new HealthMonitor(this.runtime, containerId, check, {
      healthy: () => {
        this.report({ taskId: t.id, state: 'running', containerId, health: 'healthy' });
        void this.flush();
      },
      unhealthy: (reason) => {
        this.monitors.delete(t.id);
        this.started.add(t.id); // never started again here: the restart policy makes a new task
        this.opts.log(`task ${t.id}: ${reason}; stopping its container`);
        this.stopping.add(containerId);
        this.report({ taskId: t.id, state: 'failed', containerId, error: reason, health: 'unhealthy' });
        void this.flush().then(() => this.removeContainer(containerId));
      },
    });
    this.monitors.set(t.id, m);
    m.start();
  }

  private async removeContainer(containerId: string): Promise<void> {
    this.stopping.add(containerId);
    try {
      await this.runtime.remove(containerId);
    } catch (err) {
      this.opts.log(`could not remove container ${containerId.slice(0, 12)}: ${(err as Error).message}`);
    } finally {
      this.stopping.delete(containerId);
    }
  }

  private onExit(taskId: string, containerId: string, exitCode: number): void {
    this.monitors.get(taskId)?.stop();
    this.monitors.delete(taskId);
    if (this.stopping.has(containerId)) return;
    const t = this.tasks.find((x) => x.id === taskId);
    if (!t || t.desired !== 'running') return;
    this.report({ taskId, state: exitCode === 0 ? 'complete' : 'failed', containerId, exitCode, error: exitCode === 0 ? null : `exited with code ${exitCode}` });
    void this.flush();
  }
}
