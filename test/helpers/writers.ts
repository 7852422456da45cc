// Client writers for integration tests: concurrent loops of key/value writes that record what the
// cluster acknowledged. Bounded in count and time.
import type { OrchClient } from '../../src/client/client.js';

export interface WriteLog {
  /** key -> the value the cluster acknowledged last for it. */
  acked: Map<string, string>;
  ackTimes: number[];
  failed: number;
}

export function startWriters(
  client: OrchClient,
  opts: { concurrency: number; maxWrites: number; maxMs: number; key: (w: number, n: number) => string; value?: (w: number, n: number) => string },
): { stop: () => Promise<WriteLog>; done: () => Promise<WriteLog>; log: WriteLog } {
  const log: WriteLog = { acked: new Map(), ackTimes: [], failed: 0 };
  let stopped = false;
  let writes = 0;
  const deadline = Date.now() + opts.maxMs;
  const loops = Array.from({ length: opts.concurrency }, async (_, w) => {
    for (let n = 0; !stopped && writes < opts.maxWrites && Date.now() < deadline; n++) {
      writes++;
      const key = opts.key(w, n);
      const value = opts.value ? opts.value(w, n) : `${w}:${n}`;
      try {
        await client.kvPut(key, value);
        log.acked.set(key, value);
        log.ackTimes.push(Date.now());
      } catch {
        log.failed++;
      }
    }
  });
  return {
    log,
    /** Stops after the writes in flight. */
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      return log;
    },
    /** Waits until maxWrites or maxMs is reached. */
    done: async () => {
      await Promise.all(loops);
      return log;
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
