// The exits of this node's containers, from the engine's event stream, for as long as the worker
// runs. The stream ends when dockerd dies or restarts; it is then opened again (with a growing pause
// while the engine is away), asking for the events since the last one seen so that an exit during the
// gap is not lost while dockerd kept running. Exits from before a dockerd restart are gone from its
// memory: the agent's reconcile finds those containers exited in the listing.
import type Docker from 'dockerode';

export type OnExit = (taskId: string, containerId: string, exitCode: number) => void;

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;
/** An engine that accepts the connection but does not answer within this long is tried again. */
const OPEN_TIMEOUT_MS = 10_000;
/** Container ids whose exit was reported (a reconnect's `since` may replay an event). */
const SEEN_MAX = 1000;

type EventStream = NodeJS.ReadableStream & { destroy?: () => void };

/**
 * Opens the stream (the first open must succeed: no engine is an error for the caller) and keeps it
 * open until the returned function is called.
 */
export async function watchExits(docker: Docker, nodeId: string, onExit: OnExit, log: (msg: string) => void): Promise<() => void> {
  let stopped = false;
  let stream: EventStream | null = null;
  let retry: NodeJS.Timeout | null = null;
  let pauseMs = RETRY_MIN_MS;
  // Seconds since the epoch of the last event seen (or of the first open).
  let since = Math.floor(Date.now() / 1000);
  const seen = new Set<string>();

  const open = async (): Promise<EventStream> => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), OPEN_TIMEOUT_MS);
    try {
      return (await docker.getEvents({
        since,
        filters: { type: ['container'], event: ['die'], label: [`orch.node=${nodeId}`] },
        abortSignal: abort.signal,
      } as Parameters<Docker['getEvents']>[0])) as EventStream;
    } finally {
      clearTimeout(timer);
    }
  };

  const onLine = (line: string) => {
    try {
      const ev = JSON.parse(line) as { id: string; time?: number; Actor?: { Attributes?: Record<string, string> } };
      if (typeof ev.time === 'number') since = Math.max(since, ev.time);
      const attrs = ev.Actor?.Attributes ?? {};
      if (!attrs['orch.task'] || seen.has(ev.id)) return;
      if (seen.size >= SEEN_MAX) seen.clear();
      seen.add(ev.id);
      onExit(attrs['orch.task'], ev.id, Number(attrs.exitCode ?? -1));
    } catch {
      // A partial or foreign line: ignore.
    }
  };

  const attach = (s: EventStream) => {
    stream = s;
    let buf = '';
    let ended = false;
    const lost = (why: string) => {
      if (ended) return;
      ended = true;
      s.destroy?.();
      if (stopped) return;
      log(`lost the Docker engine's event stream (${why}); reconnecting`);
      schedule();
    };
    s.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let k: number;
      while ((k = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, k).trim();
        buf = buf.slice(k + 1);
        if (line) onLine(line);
      }
    });
    s.on('error', (err: Error) => lost(err.message));
    s.on('end', () => lost('it ended'));
    s.on('close', () => lost('it closed'));
  };

  const schedule = () => {
    retry = setTimeout(() => {
      retry = null;
      if (stopped) return;
      open().then(
        (s) => {
          if (stopped) {
            s.destroy?.();
            return;
          }
          pauseMs = RETRY_MIN_MS;
          log('watching the Docker engine\'s events again');
          attach(s);
        },
        () => {
          pauseMs = Math.min(pauseMs * 2, RETRY_MAX_MS);
          schedule();
        },
      );
    }, pauseMs);
  };

  attach(await open());
  return () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    (stream as EventStream | null)?.destroy?.();
  };
}
