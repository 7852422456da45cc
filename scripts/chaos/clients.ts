// The chaos run's clients: each loops until told to stop, doing one operation at a time and
// recording it. Key/value clients put, compare-and-set (on the version they last saw) and read a
// few keys; a service client creates, scales, stops and reads a few services. An answer decides the
// outcome only when it is definite: a 4xx is a refusal, a 2xx is done; anything else (timeouts,
// lost connections, 5xx after the client's retries) is unknown.
import { ApiRequestError, OrchClient } from '../../src/client/client.js';
import type { History, Outcome } from './history.js';
import type { KvInput, KvOutput, ServiceInput, ServiceOutput } from './models.js';
import type { Random } from './random.js';

export interface ClientLoop {
  stop(): void;
  done: Promise<void>;
}

/** What an error means for an operation that changes something: refused (fail) or perhaps done (unknown). */
function writeOutcome(err: unknown): Outcome {
  return err instanceof ApiRequestError && err.status >= 400 && err.status < 500 ? 'fail' : 'unknown';
}

function message(err: unknown): string {
  return err instanceof ApiRequestError ? `${err.status} ${err.code}: ${err.message}` : (err as Error).message;
}

function loop(body: () => Promise<void>, pauseMs: () => number): ClientLoop {
  let running = true;
  const done = (async () => {
    while (running) {
      await body();
      await new Promise((r) => setTimeout(r, pauseMs()));
    }
  })();
  return { stop: () => (running = false), done };
}

/** Client options for chaos: short timeouts so a paused manager costs little, a bounded deadline. */
export function chaosClient(managers: string[]): OrchClient {
  return new OrchClient(managers, { timeoutMs: 1000, deadlineMs: 3000 });
}

export function kvClient(id: number, managers: string[], keys: string[], history: History, rnd: Random): ClientLoop {
  // One client per manager (each tries its own manager first), one picked per operation: requests
  // reach followers and deposed leaders too, not only the manager that answered last.
  const rotated = (k: number) => [...managers.slice(k), ...managers.slice(0, k)];
  const clients = managers.map((_, k) => chaosClient(rotated(k)));
  // The nemesis swaps a replaced manager's address in `managers`: each client's own order follows.
  const follow = () => clients.forEach((c, k) => c.managers.splice(0, c.managers.length, ...rotated(k)));
  const seen = new Map<string, number>();
  let n = 0;
  const l = loop(
    async () => {
      follow();
      const c = rnd.pick(clients);
      const key = rnd.pick(keys);
      const r = rnd.next();
      const value = `${id}-${++n}`;
      const input: KvInput = r < 0.4 ? { op: 'put', value } : r < 0.6 ? { op: 'cas', value, expect: seen.get(key) ?? 0 } : { op: 'get' };
      const call = history.now();
      let outcome: Outcome = 'ok';
      let output: KvOutput | undefined;
      let error: string | undefined;
      try {
        if (input.op === 'get') {
          try {
            const item = await c.kvGet(`chaos/${key}`);
            output = { value: item.value, version: item.version };
          } catch (err) {
            if (!(err instanceof ApiRequestError && err.status === 404)) throw err;
            output = { value: null, version: null };
          }
          seen.set(key, (output as { version: number | null }).version ?? 0);
        } else if (input.op === 'put') {
          const item = await c.kvPut(`chaos/${key}`, value);
          output = { version: item.version };
        } else {
          try {
            const item = await c.kvPut(`chaos/${key}`, value, { cas: input.expect });
            output = { ok: true, version: item.version };
          } catch (err) {
            if (!(err instanceof ApiRequestError && err.code === 'cas-mismatch')) throw err;
            output = { ok: false };
          }
        }
      } catch (err) {
        // A read that failed changed nothing: it is left out of the check like any failure.
        outcome = input.op === 'get' ? 'fail' : writeOutcome(err);
        error = message(err);
      }
      history.add({ kind: 'kv', key, client: id, input, output, outcome, call, ret: history.now(), ...(error ? { error } : {}) });
    },
    () => rnd.between(0, 20),
  );
  return { stop: l.stop, done: l.done.finally(() => Promise.all(clients.map((c) => c.close()))).then(() => undefined) };
}

export const CHAOS_IMAGE = 'orch/busybox:latest';

export function serviceClient(id: number, managers: string[], names: string[], history: History, rnd: Random): ClientLoop {
  const c = chaosClient(managers);
  const l = loop(
    async () => {
      const name = rnd.pick(names);
      const r = rnd.next();
      const replicas = rnd.between(1, 2);
      const input: ServiceInput = r < 0.25 ? { op: 'create', replicas } : r < 0.5 ? { op: 'scale', replicas } : r < 0.6 ? { op: 'stop' } : { op: 'get' };
      const call = history.now();
      let outcome: Outcome = 'ok';
      let output: ServiceOutput | undefined;
      let error: string | undefined;
      try {
        if (input.op === 'create') {
          await c.createService({ name, image: CHAOS_IMAGE, command: ['sleep', '3600'], replicas: input.replicas, network: 'none', resources: { memory: '16MiB' } });
          output = { ok: true };
        } else if (input.op === 'get') {
          const s = await c.service(name);
          output = { replicas: s.spec.replicas, active: s.state === 'active' };
        } else {
          if (input.op === 'scale') await c.patchService(name, { replicas: input.replicas });
          else await c.stopService(name);
          output = { ok: true };
        }
      } catch (err) {
        if (err instanceof ApiRequestError && err.status === 404 && err.code === 'not-found') output = { missing: true };
        else {
          outcome = input.op === 'get' ? 'fail' : writeOutcome(err);
          error = message(err);
        }
      }
      history.add({ kind: 'service', key: name, client: id, input, output, outcome, call, ret: history.now(), ...(error ? { error } : {}) });
    },
    () => rnd.between(100, 400),
  );
  return { stop: l.stop, done: l.done.finally(() => c.close()) };
}
