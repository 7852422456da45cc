// Waiting on the cluster from the command line: a live line on a terminal, plain lines when the
// output is a pipe or a file (one per change), and an error that says why when time runs out.
import { InvalidArgumentError } from 'commander';
import type { OrchClient, ServiceInfo, TaskInfo } from '../client/client.js';
import { parseDuration } from '../spec/units.js';

export function durationOption(flag: string) {
  return (v: string): number => {
    const ms = parseDuration(v);
    if (ms === null) throw new InvalidArgumentError(`${flag}: expected a duration like 30s or 2m, got ${JSON.stringify(v)}`);
    return ms;
  };
}

/** One status line that rewrites itself on a terminal and is printed once per change elsewhere. */
export class ProgressLine {
  private last = '';
  private readonly tty: boolean;

  constructor(private readonly quiet: boolean) {
    this.tty = process.stderr.isTTY === true && !quiet;
  }

  show(line: string): void {
    if (line === this.last || this.quiet) return;
    this.last = line;
    if (this.tty) process.stderr.write(`\r\x1b[K${line}`);
    else process.stderr.write(line + '\n');
  }

  end(): void {
    if (this.tty && this.last) process.stderr.write('\n');
  }
}

/**
 * Polls until `check` returns a value; `check` also sets the progress line and may throw. The first
 * looks come quickly (50 ms apart, growing to 250 ms), so that a short wait is not rounded up to a
 * whole poll period.
 */
export async function pollUntil<T>(timeoutMs: number, quiet: boolean, check: (p: ProgressLine) => Promise<T | undefined>, timedOut: () => string | Promise<string>): Promise<T> {
  const p = new ProgressLine(quiet);
  const deadline = Date.now() + timeoutMs;
  let gap = 50;
  try {
    for (;;) {
      const v = await check(p);
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(await timedOut());
      await new Promise((r) => setTimeout(r, gap));
      gap = Math.min(250, Math.round(gap * 1.5));
    }
  } finally {
    p.end();
  }
}

type ServiceWithTasks = ServiceInfo & { tasks: TaskInfo[] };

/** The state of a service's rolling update in words, or null when it has none running. */
export function updateLine(s: ServiceInfo): string | null {
  const u = s.update;
  if (!u) return null;
  const msg = u.message ? `: ${u.message}` : '';
  switch (u.state) {
    case 'updating':
      return `updating version ${u.from} -> ${u.to}: ${u.done}/${u.total} done`;
    case 'paused':
      return `update to version ${u.to} paused${msg}`;
    case 'completed':
      return `updated to version ${u.to}`;
    case 'rolling-back':
      return `rolling back version ${u.from} -> ${u.to}: ${u.done}/${u.total} done${msg}`;
    case 'rolled-back':
      return `rolled back from version ${u.from} to ${u.to}${msg}`;
  }
}

/**
 * Waits until every replica runs and any rolling update has ended; an update that paused or rolled
 * back is an error (the command exits non-zero and says why).
 */
export async function waitService(c: OrchClient, name: string, timeoutMs: number, quiet: boolean): Promise<ServiceWithTasks> {
  let last: ServiceInfo | null = null;
  let index: number | null = null;
  const deadline = Date.now() + timeoutMs;
  // The counts are polled (a large service's task list is tens of MB); the tasks are fetched
  // once at the end, for the answer, or for the reason a replica is pending. Each poll after the
  // first is a blocking read: it is answered as soon as the state changes (a replica ran), so the
  // wait is not rounded up to the poll period, and a quiet cluster is not asked again and again.
  await pollUntil(
    timeoutMs,
    quiet,
    async (p) => {
      const r = await c.serviceSummaryAfter(name, index, deadline - Date.now());
      index = r.index;
      const s = (last = r.service);
      const u = s.update;
      const updating = u !== null && (u.state === 'updating' || u.state === 'rolling-back');
      // An update that ended before the service's last change is old news, not this command's.
      const current = u !== null && u.updatedAt >= s.updatedAt;
      p.show(`${s.name}: ${s.running}/${s.desired} running${current ? `; ${updateLine(s)}` : ''}`);
      if (current && (u.state === 'paused' || u.state === 'rolled-back')) throw new Error(`${s.name}: ${updateLine(s)}`);
      return !updating && s.running >= s.desired ? s : undefined;
    },
    async () => {
      const tasks = await c.service(name).then((x) => x.tasks, () => [] as TaskInfo[]);
      const why = tasks.find((t) => t.desired === 'running' && t.state === 'pending' && t.reason)?.reason;
      return `${name}: ${last?.running ?? 0} of ${last?.desired ?? '?'} replicas running after ${Math.round(timeoutMs / 1000)} s${last?.update ? `; ${updateLine(last)}` : ''}${why ? ` (pending: ${why})` : ''}`;
    },
  );
  return c.service(name);
}
