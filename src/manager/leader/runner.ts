// Starts this manager's duties and stops them again, as swarmkit's manager starts its orchestrator,
// scheduler and dispatcher when it becomes the leader and stops them when it loses leadership. A
// leader duty runs only while this manager is the ready leader (the first entry of its term has
// committed: its view of the state is complete); a manager duty runs on every manager, from start
// to stop. The duties themselves keep no leader checks, busy flags or timers of their own.

/** Stops a duty; resolves once its work in flight has ended. */
export type Stop = () => Promise<void> | void;

/** A duty that arranges its own triggers (the reconciler: state changes besides an interval). */
export interface Duty {
  name: string;
  start(): Stop;
}

/** A duty run every `everyMs`: the runner owns the timer, the no-overlap flag and the leader check. */
export interface IntervalDuty {
  name: string;
  everyMs: number;
  /** Called at each start, before the first run (liveness gives every node a fresh grace here). */
  begin?(): void;
  /**
   * One round: its work in flight, or null when there was nothing to do. A failed round is simply
   * run again at the next interval, by this leader or the next (the commands are idempotent by id).
   */
  run(): Promise<unknown> | null;
}

export interface RunnerOptions {
  /** Run while this manager is the ready leader. */
  leader: (Duty | IntervalDuty)[];
  /** Run on every manager, from start() to stop(). */
  always: (Duty | IntervalDuty)[];
  /**
   * Whether this manager is the ready leader now. Interval rounds check it too: leadership can go
   * in the middle of a Raft turn, before the end of the turn reports it.
   */
  isReadyLeader(): boolean;
  /** Bound on the wait for a duty's work in flight when it stops. */
  stopTimeoutMs?: number;
  log?: (m: string) => void;
}

const DEFAULT_STOP_TIMEOUT_MS = 2000;

function isInterval(d: Duty | IntervalDuty): d is IntervalDuty {
  return 'everyMs' in d;
}

/** An interval duty as a duty: its timer, one round at a time, and only while `allowed()`. */
export function everyInterval(d: IntervalDuty, allowed: () => boolean): Duty {
  return {
    name: d.name,
    start() {
      d.begin?.();
      let inFlight: Promise<void> | null = null;
      let stopped = false;
      const timer = setInterval(() => {
        if (stopped || inFlight || !allowed()) return;
        const p = d.run();
        if (!p) return;
        inFlight = p.then(
          () => undefined,
          () => undefined,
        ).finally(() => (inFlight = null));
      }, d.everyMs);
      timer.unref();
      return async () => {
        stopped = true;
        clearInterval(timer);
        await inFlight;
      };
    },
  };
}

export class DutyRunner {
  private readonly leader: Duty[];
  private readonly always: Duty[];
  private readonly stopTimeoutMs: number;
  /** The stops of the leader duties running now (empty: not leading). */
  private leading: { term: number; stops: { name: string; stop: Stop }[] } | null = null;
  private alwaysStops: { name: string; stop: Stop }[] = [];
  /** Leadership changes are handled one after another: a start waits for the last stop to finish. */
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;
  private started = false;
  /** The term of the last leadership reported (null: not the ready leader). */
  private term: number | null = null;

  constructor(private readonly o: RunnerOptions) {
    this.leader = o.leader.map((d) => (isInterval(d) ? everyInterval(d, () => o.isReadyLeader()) : d));
    this.always = o.always.map((d) => (isInterval(d) ? everyInterval(d, () => true) : d));
    this.stopTimeoutMs = o.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  }

  /** Starts the manager duties, and the leader duties if this manager already leads. */
  start(): void {
    if (this.started) throw new Error('the duty runner was started twice');
    this.started = true;
    this.alwaysStops = this.always.map((d) => ({ name: d.name, stop: d.start() }));
    if (this.term !== null) this.leadership(this.term);
  }

  /**
   * This manager became the ready leader of `term` (a number) or stopped being one (null). Before
   * start() it is only remembered: the node may win an election before the manager is serving.
   */
  leadership(term: number | null): void {
    this.term = term;
    if (!this.started) return;
    this.queue = this.queue.then(async () => {
      if (this.leading && this.leading.term !== term) await this.stopLeading();
      if (term !== null && !this.leading && !this.stopped) this.leading = { term, stops: this.leader.map((d) => ({ name: d.name, stop: d.start() })) };
    }).catch((err: Error) => this.o.log?.(`the leader duties failed to start or stop: ${err.message}`));
  }

  /** Whether the leader duties are running. */
  get isLeading(): boolean {
    return this.leading !== null;
  }

  /** Stops every duty, each awaited (bounded by stopTimeoutMs). */
  async stop(): Promise<void> {
    this.stopped = true;
    const always = this.alwaysStops;
    this.alwaysStops = [];
    await Promise.all([this.queue.then(() => this.stopLeading()), this.stopAll(always)]);
  }

  private async stopLeading(): Promise<void> {
    const l = this.leading;
    this.leading = null;
    if (l) await this.stopAll(l.stops);
  }

  private async stopAll(stops: { name: string; stop: Stop }[]): Promise<void> {
    await Promise.all(
      stops.map(async ({ name, stop }) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), this.stopTimeoutMs)));
        const done = Promise.resolve()
          .then(stop)
          .then(
            () => 'done' as const,
            (err: Error) => (this.o.log?.(`duty ${name} failed to stop: ${err.message}`), 'done' as const),
          );
        if ((await Promise.race([done, late])) === 'late') this.o.log?.(`duty ${name} still had work in flight ${this.stopTimeoutMs} ms after it was stopped; going on without it`);
        clearTimeout(timer);
      }),
    );
  }
}
