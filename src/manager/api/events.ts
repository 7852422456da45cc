// GET /v1/events: the cluster's events (services, tasks, nodes, leaders) as server-sent events,
// in log order, from any manager. ?since=INDEX (or INDEX-K, or the Last-Event-ID header) resumes
// after an event; ?follow=true keeps the stream open for new ones as they commit.
//
// Bounded: a manager serves at most `maxSubscribers` followers at once, and holds at most about
// `maxBufferedBytes` that a stream's client has not read yet; the rest waits in the event log, which
// is bounded itself. A follower that falls behind what the log keeps, or reads nothing for
// `stallMs` while events wait, is dropped (it resumes with Last-Event-ID).
import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { EventsQuery, type StoredEvent } from '../../api/events.js';
import type { ManagerContext } from '../context.js';
import type { EventLog } from '../state/event-log.js';
import { ApiError } from './errors.js';
import { readBarrier } from './consensus.js';

export interface EventStreamLimits {
  /** Followers (?follow=true) this manager serves at once; one more is refused with 503. */
  maxSubscribers: number;
  /**
   * Bytes written to a stream that its client has not read yet; past this, events wait in the log.
   * At least 64 KiB (the manager checks): over a socket's own 16 KiB, so a full stream hears of its drain.
   */
  maxBufferedBytes: number;
  /** How long a stream waits for its client to read what it was sent before dropping it. */
  stallMs: number;
}

/** What /metrics shows of the event streams: followers now, and streams dropped since start. */
export interface EventStreamStats {
  open: number;
  dropped: number;
}

/** 256 followers of at most 1 MiB unsent: a quarter of a GiB at worst, and more followers than a cluster's dashboards and tools need. */
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

/** true once the client has read what was written, false if it has not within `ms` or went away. */
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

/**
 * One open stream: a cursor into the event log, and the response it writes to. Events are written
 * as they are added while the client keeps up; once more than the bound is left unread, writing
 * stops and the events wait in the log (which keeps them anyway) until the client has read what it
 * was sent. A client that reads nothing for `stallMs`, or falls behind what the log keeps, is dropped.
 */
class EventStream {
  private last: Cursor;
  /** Events are written as they are added (the client keeps up), or wait in the log (it does not). */
  private live = false;
  private follow = false;
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
    // Ended (dropped): a write after the end would be an error on the response, unhandled.
    if (this.dropped) return;
    if (e.index < this.last.index || (e.index === this.last.index && e.k <= this.last.k)) return;
    this.last = { index: e.index, k: e.k };
    this.anchored = true;
    this.res.write(frame(e));
  }

  private get behindLog(): boolean {
    return this.anchored && this.log.droppedThrough > this.last.index;
  }

  private get full(): boolean {
    return this.res.writableLength > this.limits.maxBufferedBytes;
  }

  /**
   * Sends the stored events after the cursor as the client reads them, then (`follow`) goes live
   * in the same synchronous step as its last look at the log, so nothing falls in between.
   * false: the stream was dropped.
   */
  async catchUp(follow: boolean): Promise<boolean> {
    this.follow = follow;
    this.live = false;
    while (!this.dropped) {
      if (this.behindLog) return this.drop(`events after ${this.last.index}-${this.last.k} are no longer kept on this manager`);
      const batch = this.log.after(this.last.index, this.last.k);
      if (batch.length === 0) {
        this.live = follow;
        return true;
      }
      for (const e of batch) {
        this.write(e);
        if (this.full && !(await drained(this.res, this.limits.stallMs))) return this.drop(`the client read nothing for ${this.limits.stallMs} ms`);
        // Dropped while it waited (it fell behind what the log keeps).
        if (this.dropped) return false;
      }
    }
    return false;
  }

  /** A new event (already in the log): written if the client keeps up; else it waits in the log. */
  push(e: StoredEvent): void {
    if (this.dropped) return;
    if (!this.live) {
      // Catching up: the event is in the log, unless the log has already dropped what is next.
      if (this.behindLog) this.drop(`it fell behind what this manager keeps (events up to index ${this.log.droppedThrough} are gone)`);
      return;
    }
    this.write(e);
    if (this.full) void this.resumeOnceRead();
  }

  /** Too much unread: events wait in the log until the client has read what it was sent. */
  private async resumeOnceRead(): Promise<void> {
    this.live = false;
    if (!(await drained(this.res, this.limits.stallMs))) this.drop(`the client read nothing for ${this.limits.stallMs} ms`);
    else await this.catchUp(this.follow);
  }

  keepAlive(): void {
    if (this.live && !this.full) this.res.write(': keep-alive\n\n');
  }

  /** Ends the stream with a comment saying why; what the client never reads is cut a second later. */
  drop(why: string): false {
    if (this.dropped) return false;
    this.dropped = true;
    this.live = false;
    this.onDrop();
    this.res.end(`: dropped: ${why}; reconnect with Last-Event-ID: ${this.last.index}-${this.last.k} to resume\n\n`);
    const cut = setTimeout(() => this.res.destroy(), 1000);
    cut.unref();
    this.res.once('close', () => clearTimeout(cut));
    return false;
  }
}

export const eventRoutes: FastifyPluginAsyncTypebox<{ ctx: ManagerContext; limits?: Partial<EventStreamLimits>; stats?: EventStreamStats }> = async (app, { ctx, limits: given, stats: shown }) => {
  const limits = { ...DEFAULT_EVENT_LIMITS, ...given };
  const stats = shown ?? { open: 0, dropped: 0 };
  app.get(
    '/v1/events',
    // A stream of server-sent events: no JSON answer to declare.
    { config: { access: 'read' }, schema: { querystring: EventsQuery } },
    async (req, reply) => {
      const lastId = req.headers['last-event-id'];
      const resumed = req.query.since !== undefined || lastId !== undefined;
      const since = parseSince(req.query.since ?? (typeof lastId === 'string' ? lastId : undefined));
      const log = ctx.state.events;
      if (since.index < log.droppedThrough && resumed) {
        throw new ApiError(410, 'events-gone', `events up to index ${log.droppedThrough} are no longer kept on this manager; resume with since=${log.droppedThrough}`, { from: log.droppedThrough });
      }
      const follow = req.query.follow === true;
      // Followers stay; a read of the history ends once sent (or after stallMs of not reading).
      if (follow && stats.open >= limits.maxSubscribers) {
        reply.header('retry-after', '1');
        throw new ApiError(503, 'too-many-subscribers', `this manager already serves ${stats.open} followers of its events, its limit (--max-event-subscribers); retry later or on another manager`, { limit: limits.maxSubscribers });
      }
      if (follow) stats.open++;
      try {
        // What this manager has applied includes every write acknowledged before the request.
        await readBarrier(ctx, false);
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
        const closed = new Promise<void>((resolve) => res.once('close', resolve));
        let unsubscribe: () => void = () => undefined;
        const stream = new EventStream(res, log, limits, since, resumed, () => {
          stats.dropped++;
          unsubscribe();
        });
        if (follow) unsubscribe = log.subscribe((e) => stream.push(e));
        if (!(await stream.catchUp(follow))) return;
        if (!follow) {
          res.end();
          return;
        }
        const keepAlive = setInterval(() => stream.keepAlive(), 15_000);
        await closed;
        clearInterval(keepAlive);
        unsubscribe();
      } finally {
        if (follow) stats.open--;
      }
    },
  );
};
