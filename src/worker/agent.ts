// The worker's agent: it long-polls the leader for this node's assignments, makes the containers
// match them, and reports every transition (batched, in heartbeats). Assignments from an older
// leader term are ignored; containers whose task is not assigned here any more are removed, so a
// healed partition never leaves two copies running.
import type { Assignment } from '../api/nodes.js';
import { isTerminal, type TaskReport } from '../api/tasks.js';
import { ApiRequestError, type OrchClient } from '../client/client.js';
import { HealthMonitor } from './health.js';
import { batchSize, fitReport, fitUsage } from './report-limits.js';
import type { UsageSampler } from './resources.js';
import type { Runtime, RuntimeContainer } from './runtime/runtime.js';

export interface AgentOptions {
  heartbeatMs: number;
  /** How long one assignment long-poll may wait on the leader. */
  pollMs?: number;
  log: (msg: string) => void;
  /** This agent's session id, sent with every heartbeat and poll (see src/manager/sessions.ts). */
  session?: string;
  /**
   * The managers will not have this agent any more: the node was removed (its containers are
   * removed first), or another agent runs it now. The agent has stopped; the worker should exit.
   */
  onFatal?: (f: Fatal) => void;
}

export interface Fatal {
  kind: 'revoked' | 'replaced';
  message: string;
}

/** The managers' answer is about the request's content: sending it again cannot succeed. */
function refused(err: unknown): err is ApiRequestError {
  return err instanceof ApiRequestError && (err.status === 400 || err.status === 413 || err.status === 422);
}

/** The answer that ends this agent, if `err` is one: removed from the cluster, or replaced by another agent. */
export function fatalOf(err: unknown): Fatal | null {
  if (!(err instanceof ApiRequestError)) return null;
  if (err.status === 403 && err.code === 'revoked') return { kind: 'revoked', message: err.message };
  if (err.status === 409 && err.code === 'node-session-taken') return { kind: 'replaced', message: err.message };
  return null;
}

export class Agent {
  private reports: TaskReport[] = [];
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
  /** Set once the managers refused this agent for good (see AgentOptions.onFatal). */
  private halted: Fatal | null = null;
  /** The clean-up after a halt, then the onFatal call. */
  private halting: Promise<void> = Promise.resolve();

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
    this.quiet();
    await this.reconciling;
    await this.halting;
    await this.flush();
  }

  /** No more polls, heartbeats, exit events or health checks. */
  private quiet(): void {
    this.running = false;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.unwatch?.();
    for (const m of this.monitors.values()) m.stop();
    this.monitors.clear();
  }

  private report(r: TaskReport): void {
    r = fitReport(r);
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

  /** Sends the heartbeat with the reports gathered since the last one (unless one is on its way). */
  async flush(): Promise<void> {
    if (this.flushing || this.halted) return;
    this.flushing = true;
    // At most one heartbeat's worth: the rest go with the next ones.
    const batch = this.reports.splice(0, batchSize(this.reports));
    try {
      await this.send(batch);
      if (!this.connected) this.opts.log('reconnected to the managers');
      this.connected = true;
    } catch (err) {
      if (this.halt(err)) return;
      // Not lost: sent again with the next heartbeat (reports only move tasks forward).
      this.reports = batch.concat(this.reports);
      if (this.connected) this.opts.log(`heartbeat failed: ${(err as Error).message}`);
      this.connected = false;
    } finally {
      this.flushing = false;
    }
  }

  /**
   * One heartbeat with `batch`. A batch the managers refuse (400: its content) is split in halves
   * sent apart, so that only the reports refused on their own are dropped, with a log line, and never
   * sent again: re-sending a refused batch forever kept every later report out, and the node's
   * heartbeats failing made it down. Any other failure throws (the caller keeps the batch).
   */
  private async send(batch: TaskReport[]): Promise<void> {
    try {
      const res = await this.client.heartbeat(this.nodeId, { usage: fitUsage(this.usage.latest), reports: batch }, this.opts.session);
      this.client.setManagers(res.managers);
    } catch (err) {
      if (!refused(err) || batch.length === 0) throw err;
      if (batch.length === 1) {
        this.opts.log(`dropped the report of task ${batch[0].taskId} (${batch[0].state}): the managers refused it: ${err.message} (${err.code})`);
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await this.send(batch.slice(0, half));
      await this.send(batch.slice(half));
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
      await this.client.heartbeat(this.nodeId, { usage: fitUsage(this.usage.latest), reports: [] }, this.opts.session);
    } catch (err) {
      // Unless it ends this agent, the next one, or the pending flush, will tell.
      this.halt(err);
    } finally {
      this.beating = false;
    }
  }

  /**
   * Ends the agent if `err` says the managers will not have it (see fatalOf); true if so. A removed
   * node's containers are stopped and removed (they would run unsupervised, their tasks already
   * replaced elsewhere). A replaced agent leaves them: they are the node's, and the agent that
   * runs the node now adopts them.
   */
  private halt(err: unknown): boolean {
    const f = this.halted ?? fatalOf(err);
    if (!f) return false;
    if (this.halted) return true;
    this.halted = f;
    this.quiet();
    this.halting = (async () => {
      await this.reconciling.catch(() => undefined);
      if (f.kind === 'revoked') await this.removeAll();
      this.opts.onFatal?.(f);
    })();
    return true;
  }

  /** Stops and removes every container of this node. */
  private async removeAll(): Promise<void> {
    let cs: RuntimeContainer[] = [];
    try {
      cs = await this.runtime.list();
    } catch (err) {
      this.opts.log(`could not list this node's containers to remove them: ${(err as Error).message}`);
    }
    await Promise.all(cs.map((c) => this.removeContainer(c.containerId)));
    if (cs.length) this.opts.log(`removed this node's ${cs.length} container(s)`);
  }

  private async pollLoop(): Promise<void> {
    while (this.running) {
      try {
        const a = await this.client.assignments(this.nodeId, this.version, this.opts.pollMs ?? 3000, this.opts.session);
        if (a.term < this.term) continue; // an answer from a deposed leader
        this.term = a.term;
        this.version = a.version;
        if (!a.unchanged) this.tasks = a.tasks ?? [];
        this.reconciling = this.reconcile();
        await this.reconciling;
      } catch (err) {
        if (this.halt(err)) return;
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
        else if (!isTerminal(t.state)) this.report({ taskId: t.id, state: 'shutdown' });
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
      } else if (!isTerminal(t.state) && c.exitCode !== null && !Number.isNaN(c.exitCode)) {
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
