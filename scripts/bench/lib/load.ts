// A closed-loop load generator: `concurrency` workers each send one request at a time for a fixed
// time (bounded in count and time), recording each latency.
import { Pool } from 'undici';

export interface LoadResult {
  ops: number;
  errors: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function closedLoop(
  origin: string,
  concurrency: number,
  seconds: number,
  makeRequest: (worker: number, n: number) => { method: 'PUT' | 'POST'; path: string; body: string },
  maxOps = 5_000_000,
): Promise<LoadResult> {
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const lat: number[] = [];
  let errors = 0;
  let ops = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let n = 0; performance.now() < end && ops < maxOps; n++) {
        const r = makeRequest(w, n);
        const t0 = performance.now();
        try {
          const res = await pool.request({ method: r.method, path: r.path, body: r.body, headers: { 'content-type': 'application/json' } });
          await res.body.dump();
          if (res.statusCode >= 300) errors++;
          else {
            ops++;
            lat.push(performance.now() - t0);
          }
        } catch {
          errors++;
        }
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  await pool.close();
  lat.sort((a, b) => a - b);
  return { ops, errors, seconds: secs, perSecond: ops / secs, p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat[lat.length - 1] ?? NaN };
}
