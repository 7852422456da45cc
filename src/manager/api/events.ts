// GET /v1/events: the cluster's events (services, tasks, nodes, leaders) as server-sent events,
// in log order, from any manager. ?since=INDEX (or INDEX-K, or the Last-Event-ID header) resumes
// after an event; ?follow=true keeps the stream open for new ones as they commit.
import type { FastifyPluginAsync } from 'fastify';
import type { ManagerContext } from '../context.js';
import type { StoredEvent } from '../state/event-log.js';
import { ApiError } from './errors.js';
import { readBarrier } from './consensus.js';

const SINCE = /^(\d{1,15})(?:-(\d{1,6}))?$/;

function parseSince(v: string | undefined): { index: number; k: number } {
  if (v === undefined || v === '') return { index: 0, k: Infinity };
  const m = SINCE.exec(v);
  if (!m) throw new ApiError(400, 'bad-request', `since: expected a log index or an event id like 120-0, got ${JSON.stringify(v.slice(0, 40))}`);
  return { index: Number(m[1]), k: m[2] === undefined ? Infinity : Number(m[2]) };
}

const frame = (e: StoredEvent) => `id: ${e.index}-${e.k}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;

export const eventRoutes: FastifyPluginAsync<{ ctx: ManagerContext }> = async (app, { ctx }) => {
  app.get<{ Querystring: { since?: string; follow?: boolean } }>(
    '/v1/events',
    { schema: { querystring: { type: 'object', properties: { since: { type: 'string', maxLength: 24 }, follow: { type: 'boolean' } }, additionalProperties: false } } },
    async (req, reply) => {
      const lastId = req.headers['last-event-id'];
      const since = parseSince(req.query.since ?? (typeof lastId === 'string' ? lastId : undefined));
      const log = ctx.state.events;
      if (since.index < log.droppedThrough && (req.query.since !== undefined || lastId !== undefined)) {
        throw new ApiError(410, 'events-gone', `events up to index ${log.droppedThrough} are no longer kept on this manager; resume with since=${log.droppedThrough}`, { from: log.droppedThrough });
      }
      // What this manager has applied includes every write acknowledged before the request.
      await readBarrier(ctx, false);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
      let last = since;
      const send = (e: StoredEvent) => {
        if (e.index < last.index || (e.index === last.index && e.k <= last.k)) return;
        last = { index: e.index, k: e.k };
        res.write(frame(e));
      };
      if (!req.query.follow) {
        for (const e of log.after(since.index, since.k)) send(e);
        res.end();
        return;
      }
      // Subscribe first, then send the backlog: nothing applied in between is missed or repeated.
      const queued: StoredEvent[] = [];
      let live = false;
      const unsubscribe = log.subscribe((e) => (live ? send(e) : queued.push(e)));
      for (const e of log.after(since.index, since.k)) send(e);
      for (const e of queued) send(e);
      live = true;
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      await new Promise<void>((resolve) => req.raw.once('close', resolve));
      clearInterval(keepAlive);
      unsubscribe();
    },
  );
};
