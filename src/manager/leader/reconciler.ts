// The leader's loop that holds every service at its spec (the plan: ../reconciler.ts) and places
// pending tasks. The duty runner (runner.ts) starts it when this manager becomes the ready leader and
// stops it when leadership goes: every decision is a proposal that must commit.
import type { ManagerContext } from '../context.js';
import { newId } from '../ids.js';
import { placePending } from '../placement.js';
import { plan } from '../reconciler.js';
import type { Strategy } from '../../scheduler/index.js';
import { ManagerState, type Envelope } from '../state/machine.js';
import type { Duty } from './runner.js';

/** Placements (and reasons for not placing) per task.assign entry. */
const ASSIGN_CHUNK = 2000;

/**
 * A round (plan and placement) looks at every task, so with many tasks it takes a while: the next
 * round waits at least this many times as long as the last one took, which keeps the loop's share of
 * the leader's time bounded (the Raft heartbeats and the API need the rest).
 */
const ROUND_SPACING = 4;

export class Reconciler {
  private timer: NodeJS.Timeout | null = null;
  private lastRevision = -1;
  /** Rounds that proposed something, for metrics and tests. */
  rounds = 0;

  /** Told how long each placement of pending tasks took (the scheduling latency metric). */
  observePlacement: ((ms: number, tasks: number) => void) | null = null;
  /** performance.now() before which no round starts (see ROUND_SPACING). */
  private notBefore = 0;
  /** Where round-robin placement continues from. */
  private cursor: string | null = null;

  constructor(
    private readonly ctx: ManagerContext,
    private readonly strategy: Strategy = 'spread',
    private readonly intervalMs = 50,
  ) {}

  /** Unsubscribes from the state's changes. */
  private unsubscribe: (() => void) | null = null;
  /** A tick is queued (setImmediate) for a change: many changes in a row queue one. */
  private kicked = false;
  /** A tick is queued for when ROUND_SPACING allows the next round. */
  private deferred: NodeJS.Timeout | null = null;

  /**
   * Ticks on every applied change of the cluster state (a new service's tasks are created, and
   * created tasks placed, as soon as the entry before applies: on an interval alone each of those
   * steps waited half of it on average), when ROUND_SPACING lets a held-back round go, and on the
   * interval (restart delays, update monitors).
   */
  start(): void {
    // A new term re-examines everything.
    this.lastRevision = -1;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.unsubscribe = this.ctx.state.onClusterChange(() => this.kick());
  }

  /** Stops ticking; resolves once a round in flight has ended (its proposals committed or failed). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.deferred) clearTimeout(this.deferred);
    this.deferred = null;
    await this.inFlight;
  }

  /** As a duty of the runner: started on the ready leader, stopped when leadership goes. */
  duty(): Duty {
    return {
      name: 'reconciler',
      start: () => {
        this.start();
        return () => this.stop();
      },
    };
  }

  private kick(): void {
    if (this.kicked || !this.timer) return;
    this.kicked = true;
    setImmediate(() => {
      this.kicked = false;
      if (this.timer) void this.tick();
    });
  }

  /** A round, unless one is in flight: the runner decides whether rounds happen at all (on the ready leader only). */
  tick(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    let p: Promise<unknown> | null;
    try {
      p = this.round();
    } catch {
      // A round that cannot be planned is tried again at the next change or interval.
      p = null;
    }
    if (!p) return Promise.resolve();
    const done = p.then(
      () => undefined,
      // Not leader any more, or the outcome is unknown: the next round looks at the committed state.
      () => undefined,
    );
    this.inFlight = done.finally(() => {
      this.inFlight = null;
      // The changes this round committed were applied while it was in flight: look at them now.
      this.kick();
    });
    return this.inFlight;
  }

  /** A round in flight: its proposals wait to commit. */
  private inFlight: Promise<void> | null = null;

  /** Plans and places (synchronously), then proposes: null when there was nothing to propose. */
  private round(): Promise<unknown> | null {
    const { node, state } = this.ctx;
    if (state.cluster.revision === this.lastRevision) return null;
    const early = this.notBefore - performance.now();
    if (early > 0) {
      // Held back by ROUND_SPACING: come back when it allows, not at the next interval.
      this.deferred ??= setTimeout(() => {
        this.deferred = null;
        this.kick();
      }, Math.ceil(early));
      return null;
    }
    const started = performance.now();
    const rev = state.cluster.revision;
    const ts = Date.now();
    const p = plan(state.cluster, ts);
    const props: Envelope[] = [];
    for (const x of p.updates) props.push({ op: 'service.update', ts, ...x, id: newId() });
    if (p.shutdown.length || p.terminal.length) props.push({ op: 'task.shutdown', ts, ids: p.shutdown, terminal: p.terminal, id: newId() });
    if (p.remove.length) props.push({ op: 'task.remove', ts, ids: p.remove, id: newId() });
    // Batched: all new tasks of a round in one entry (chunked so an entry stays small).
    for (let k = 0; k < p.create.length; k += 1000) props.push({ op: 'task.create', ts, tasks: p.create.slice(k, k + 1000), id: newId() });
    // Placement is committed before any worker hears of it; tasks created this round are placed
    // in the next one, once they exist in the committed state.
    const t0 = performance.now();
    const placed = placePending(state.cluster, this.strategy, (id) => this.ctx.usage?.(id) ?? null, this.cursor);
    this.cursor = placed.cursor;
    const n = placed.assignments.length + placed.unplaced.length;
    if (n > 0) this.observePlacement?.(performance.now() - t0, n);
    this.notBefore = performance.now() + ROUND_SPACING * (performance.now() - started);
    // Chunked too: one entry of 100,000 placements would stall every manager while it applies.
    for (let k = 0; k < placed.assignments.length || k < placed.unplaced.length; k += ASSIGN_CHUNK) {
      props.push({ op: 'task.assign', ts, assignments: placed.assignments.slice(k, k + ASSIGN_CHUNK), unplaced: placed.unplaced.slice(k, k + ASSIGN_CHUNK), id: newId() });
    }
    if (props.length === 0) {
      // Nothing to do until the state changes, unless a slot waits out a restart delay.
      this.lastRevision = p.retryIn === undefined ? rev : -1;
      return null;
    }
    this.rounds++;
    return Promise.all(props.map((c) => node.propose(ManagerState.encode(c))));
  }
}
