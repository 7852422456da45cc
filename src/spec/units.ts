// Units a person writes in a spec: sizes (64MiB, 1.5GiB, 100MB, 512k, or a number of bytes),
// durations (500ms, 5s, 1m30s, or a number of milliseconds) and cpus (0.5, "1.5", "500m").
// Each parser returns a number or null; the caller names the field in its error.

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** Bytes from "64MiB", "1.5GiB", "100MB", "512k" or a non-negative integer. */
export function parseBytes(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  if (!m) return null;
  const unit = SIZE_UNITS[m[2].toLowerCase()];
  if (unit === undefined) return null;
  const n = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : null;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds from "500ms", "5s", "1m30s", "2h" or a non-negative integer of milliseconds. */
export function parseDuration(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null;
  if (typeof v !== 'string' || !/^\s*(\d+(\.\d+)?(ms|s|m|h)\s*)+$/.test(v)) return null;
  let total = 0;
  for (const part of v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(part[1]) * DURATION_UNITS[part[2]];
  return Number.isFinite(total) ? Math.round(total) : null;
}

/** Cpus from 0.5, "1.5" or Kubernetes-style "500m" (millicpus). */
export function parseCpu(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : null;
  if (typeof v !== 'string') return null;
  const milli = /^\s*(\d+)m\s*$/.exec(v);
  if (milli) return Number(milli[1]) / 1000;
  const m = /^\s*(\d+(?:\.\d+)?)\s*$/.exec(v);
  return m ? Number(m[1]) : null;
}

/** "64 MiB", "1.5 GiB": for messages and tables. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let k = 0;
  let v = n;
  while (v >= 1024 && k < units.length - 1) {
    v /= 1024;
    k++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[k]}`;
}
