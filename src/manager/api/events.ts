// GET /v1/events: the cluster's events (services, tasks, nodes, leaders) as server-sent events,
// in log order, from any manager. ?since=INDEX (or INDEX-K, or the Last-Event-ID header) resumes
// after an event; ?follow=true keeps the stream open for new ones as they commit.
//
// Bounded: a manager serves at most `maxSubscribers` streams at once, and holds at most about
// `maxBufferedBytes` that a stream's client has not taken yet. The history is sent as the client
// takes it; a live follower that falls that far behind is dropped (it resumes with Last-Event-ID).
import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import type { ManagerContext } from '../context.js';
import type { EventLog, StoredEvent } from '../state/event-log.js';
import { ApiError } from './errors.js';
import { readBarrier } from './consensus.js';

export interface EventStreamLimits {
  /** Event streams this manager serves at once; one more is refused with 503. */
  maxSubscribers: number;
  /** Bytes written to a stream that its client has not taken yet; past this a follower is dropped. */
  maxBufferedBytes: number;
  /** How long sending the history waits for a client to take what it was sent before dropping it. */
  stallMs: number;
}

/** 256 streams of at most 1 MiB unsent: a quarter of a GiB at worst, and more followers than a cluster's dashboards and tools need. */
export const DEFAULT_EVENT_LIMITS: EventStreamLimits = { maxSubscribers: 256, maxBufferedBytes: 1 << 20, stallMs: 30_000 };

const SINCE = /^(\d{1,15})(?:-(\d{1,6}))?$/;

type Cursor = { index: number; k: number };

function parseSince(v: string | undefined): Cursor {
  if (v === undefined || v === '') return { index: 0, k: Infinity };
  const m = SINCE.exec(v);
  if (!m) throw new ApiError(400, 'bad-request', `since: expected a log index or an event id like 120-0, got ${JSON.stringify(v.slice(0, 40))}`);
  return { index: Number(m[1]), k: m[2] === undefined ? Infinity : Number(m[2]) };
}

const frame = (e: StoredEvent) => `id: ${e.index}-${e.k}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;

/** true once the client has taken what was written, false if it has not within `ms` or went away. */
function drained(res: ServerResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const timer = setTimeout(() => done(false), ms);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/** One open stream: a cursor into the event log, and the response it writes to. */
class EventStream {
  private last: Cursor;
  /** Whether events are sent as they are added (after the history). */
  live = false;
  dropped = false;
  /** The stream started at a given event (or has sent one): a gap after it must not be skipped over. */
  private anchored: boolean;

  constructor(
    private readonly res: ServerResponse,
    private readonly log: EventLog,
    private readonly limits: EventStreamLimits,
    since: Cursor,
    resumed: boolean,
    private readonly onDrop: () => void,
  ) {
    this.last = since;
    this.anchored = resumed;
  }

  private write(e: StoredEvent): void {
    if (e.index < this.last.index || (e.index === this.last.index && e.k <= this.last.k)) return;
    this.last = { index: e.index, k: e.k };
    this.anchored = true;
    this.res.write(frame(e));
  }

  /**
   * Sends the stored events after the cursor as the client takes them, and then (`follow`) goes
   * live in the same synchronous step as the last look at the log, so nothing falls in between.
   * false: the stream was dropped (too slow, or behind what the log still keeps).
   */
  async sendHistory(follow: boolean): Promise<boolean> {
    for (let round = 0; !this.dropped; round++) {
      if (this.anchored && this.log.droppedThrough > this.last.index) {
        this.drop(`events after ${this.last.index}-${this.last.k} are no longer kept on this manager`);
        return false;
      }
      const batch = this.log.after(this.last.index, this.last.k);
      if (batch.length === 0) {
        this.live = follow;
        return true;
      }
      for (const e of batch) {
        this.write(e);
        if (this.res.writableLength > this.limits.maxBufferedBytes && !(await drained(this.res, this.limits.stallMs))) {
          this.drop(`the client took nothing for ${this.limits.stallMs} ms`);
          return false;
        }
      }
    }
    return false;
  }

  /** A new event: sent, unless the client has left too much untaken, which drops it. */
  push(e: StoredEvent): void {
    if (!this.live || this.dropped) return;
    if (this.res.writableLength > this.limits.maxBufferedBytes) this.drop(`more than ${this.limits.maxBufferedBytes} bytes were left untaken`);
    else this.write(e);
  }

  keepAlive(): void {
    if (this.dropped) return;
    if (this.res.writableLength > this.limits.maxBufferedBytes) this.drop(`more than ${this.limits.maxBufferedBytes} bytes were left untaken`);
    else this.res.write(': keep-alive\n\n');
  }

  /** Ends the stream with a comment saying why; what the client never takes is cut a second later. */
  drop(why: string): void {
    if (this.dropped) return;
    this.dropped = true;
    this.live = false;
    this.onDrop();
    this.res.end(`: dropped: ${why}; reconnect with Last-Event-ID: ${this.last.index}-${this.last.k} to resume\n\n`);
    const cut = setTimeout(() => this.res.destroy(), 1000);
    cut.unref();
    this.res.once('close', () => clearTimeout(cut));
  }
}

export const eventRoutes: FastifyPluginAsync<{ ctx: ManagerContext; limits?: Partial<EventStreamLimits> }> = async (app, { ctx, limits: given }) => {
  const limits = { ...DEFAULT_EVENT_LIMITS, ...given };
  let open = 0;
  app.get<{ Querystring: { since?: string; follow?: boolean } }>(
    '/v1/events',
    { schema: { querystring: { type: 'object', properties: { since: { type: 'string', maxLength: 24 }, follow: { type: 'boolean' } }, additionalProperties: false } } },
    async (req, reply) => {
      const lastId = req.headers['last-event-id'];
      const resumed = req.query.since !== undefined || lastId !== undefined;
      const since = parseSince(req.query.since ?? (typeof lastId === 'string' ? lastId : undefined));
      const log = ctx.state.events;
      if (since.index < log.droppedThrough && resumed) {
        throw new ApiError(410, 'events-gone', `events up to index ${log.droppedThrough} are no longer kept on this manager; resume with since=${log.droppedThrough}`, { from: log.droppedThrough });
      }
      if (open >= limits.maxSubscribers) {
        reply.header('retry-after', '1');
        throw new ApiError(503, 'too-many-subscribers', `this manager already serves ${open} event streams, its limit (--max-event-subscribers); retry later or on another manager`, { limit: limits.maxSubscribers });
      }
      open++;
      try {
        // What this manager has applied includes every write acknowledged before the request.
        await readBarrier(ctx, false);
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
        const closed = new Promise<void>((resolve) => res.once('close', resolve));
        let unsubscribe: () => void = () => undefined;
        const stream = new EventStream(res, log, limits, since, resumed, () => unsubscribe());
        if (req.query.follow) unsubscribe = log.subscribe((e) => stream.push(e));
        if (!(await stream.sendHistory(req.query.follow === true))) return;
        if (!req.query.follow) {
          res.end();
          return;
        }
        const keepAlive = setInterval(() => stream.keepAlive(), 15_000);
        await closed;
        clearInterval(keepAlive);
        unsubscribe();
      } finally {
        open--;
      }
    },
  );
};
