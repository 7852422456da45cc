// Health checks, run by the worker beside each container whose service has one: an HTTP GET (any
// 2xx or 3xx is healthy), a TCP connect, or a command run inside the container (exit 0 is healthy).
// As in Docker, failures during the start period do not count, the first success marks the task
// healthy, and `retries` failures in a row mark it unhealthy; the agent then stops the container
// and reports the task failed with the last probe's reason, so the restart policy applies. A probe
// that could not reach the Docker engine (dockerd restarting) counts neither way.
import { connect } from 'node:net';
import { request } from 'undici';
import type { ServiceSpec } from '../spec/index.js';
import { EngineUnreachable, type Runtime } from './runtime/runtime.js';

export type HealthCheck = NonNullable<ServiceSpec['healthCheck']>;

/** One probe: null when healthy, otherwise why not. */
export async function probe(runtime: Runtime, containerId: string, check: HealthCheck): Promise<string | null> {
  const ms = check.timeoutMs;
  if (check.exec) {
    const r = await runtime.exec(containerId, check.exec.command, ms);
    if (r.exitCode === 0) return null;
    const out = r.output.trim().split('\n').pop()?.slice(0, 200);
    return `${JSON.stringify(check.exec.command)} exited with ${r.exitCode}${out ? `: ${out}` : ''}`;
  }
  const port = (check.http ?? check.tcp)!.port;
  const ep = await runtime.endpoint(containerId, port);
  if (!ep) return `port ${port} of the container has no address the worker can reach`;
  if (check.http) {
    const url = `http://${ep.host}:${ep.port}${check.http.path}`;
    try {
      const res = await request(url, { headersTimeout: ms, bodyTimeout: ms, signal: AbortSignal.timeout(ms) });
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 400 ? null : `GET ${check.http.path} answered ${res.statusCode}`;
    } catch (err) {
      return `GET ${check.http.path} on port ${port}: ${(err as Error).message}`;
    }
  }
  return new Promise((resolve) => {
    const sock = connect({ host: ep.host, port: ep.port });
    const done = (why: string | null) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done(`no TCP connection to port ${port} within ${ms} ms`), ms);
    sock.once('connect', () => done(null));
    sock.once('error', (err) => done(`TCP port ${port}: ${err.message}`));
  });
}

export interface HealthEvents {
  healthy(): void;
  unhealthy(reason: string): void;
}

/** Probes one container every interval until stopped or until it is found unhealthy. */
export class HealthMonitor {
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private healthy = false;
  private stopped = false;
  private readonly startedAt = Date.now();

  constructor(
    private readonly runtime: Runtime,
    private readonly containerId: string,
    private readonly check: HealthCheck,
    private readonly on: HealthEvents,
  ) {}

  start(): void {
    // The first probe comes early, so that a healthy task is known as such within a second.
    this.schedule(Math.min(this.check.intervalMs, 500));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (!this.stopped) this.timer = setTimeout(() => void this.round(), ms);
  }

  private async round(): Promise<void> {
    let why: string | null;
    try {
      why = await probe(this.runtime, this.containerId, this.check);
    } catch (err) {
      if (err instanceof EngineUnreachable) {
        // dockerd restarting says nothing about the container: this round does not count.
        this.schedule(this.check.intervalMs);
        return;
      }
      why = (err as Error).message;
    }
    if (this.stopped) return;
    if (why === null) {
      this.failures = 0;
      if (!this.healthy) {
        this.healthy = true;
        this.on.healthy();
      }
    } else if (Date.now() - this.startedAt >= this.check.startPeriodMs || this.healthy) {
      this.failures++;
      if (this.failures >= this.check.retries) {
        this.stop();
        this.on.unhealthy(`health check failed ${this.failures} time(s) in a row: ${why}`);
        return;
      }
    }
    this.schedule(this.check.intervalMs);
  }
}
