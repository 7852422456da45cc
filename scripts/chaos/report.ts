// The chaos run's report: a one-screen summary, and a self-contained HTML page with an SVG timeline
// (who led when, which faults were on, every operation's latency by outcome) so that a person can
// see what happened.
import type { Recorded } from './history.js';
import type { FaultEvent } from './nemesis.js';
import type { Sample } from './observer.js';

export interface CheckLine {
  name: string;
  ok: boolean;
  detail: string;
}

export interface Summary {
  seed: number;
  managers: number;
  workers: number;
  durationMs: number;
  outcomes: Record<string, number>;
  faults: Record<string, number>;
  leaderChanges: number;
  longestUnavailableMs: number;
  checks: CheckLine[];
  ok: boolean;
}

export function summaryText(s: Summary): string {
  const lines = [
    `chaos: seed ${s.seed}, ${s.managers} managers, ${s.workers} workers, ${(s.durationMs / 1000).toFixed(0)} s of faults`,
    `operations: ${Object.entries(s.outcomes).map(([k, v]) => `${v} ${k}`).join(', ')}`,
    `faults: ${Object.entries(s.faults).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    `leader changes: ${s.leaderChanges}; longest time without an acknowledged write: ${s.longestUnavailableMs.toFixed(0)} ms`,
    ...s.checks.map((c) => `${c.ok ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}`),
    s.ok ? 'result: PASS' : 'result: FAIL',
  ];
  return lines.join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const FAULT_COLOR: Record<string, string> = {
  'kill-leader': '#d62728',
  'kill-manager': '#ff7f0e',
  'kill-worker': '#8c564b',
  'pause-manager': '#bcbd22',
  'partition-out': '#1f77b4',
  'partition-in': '#17becf',
  'partition-isolate': '#9467bd',
  'partition-split': '#e377c2',
  'isolate-worker': '#7f7f7f',
  'wipe-manager': '#000000',
  'replace-manager': '#8c564b',
};

export function timelineHtml(s: Summary, samples: Sample[], faults: FaultEvent[], ops: Recorded[]): string {
  const W = 1400;
  const left = 90;
  // A loop, not Math.max(...spread): a 10-minute run records over 100,000 operations, more
  // arguments than the call stack takes.
  let end = Math.max(s.durationMs, 1);
  for (const o of ops) if (o.ret > end) end = o.ret;
  for (const sample of samples) if (sample.at > end) end = sample.at;
  const x = (t: number) => left + (t / end) * (W - left - 10);
  const rowH = 18;
  const parts: string[] = [];
  let y = 20;
  // One row per manager: green while leader, light when follower, grey when it did not answer.
  for (let k = 0; k < s.managers; k++) {
    parts.push(`<text x="4" y="${y + 13}" font-size="12">m${k + 1}</text>`);
    // One rectangle per stretch of the same role and term.
    for (let j = 0; j < samples.length; ) {
      const v = samples[j].views[k];
      let e = j + 1;
      while (e < samples.length && samples[e].views[k]?.role === v?.role && samples[e].views[k]?.term === v?.term) e++;
      const a = samples[j].at;
      const b = samples[e]?.at ?? a + 200;
      const color = !v || v.role === 'down' ? '#ccc' : v.role === 'leader' ? '#2ca02c' : v.role === 'candidate' || v.role === 'pre-candidate' ? '#ffbb78' : '#e8f4e8';
      parts.push(`<rect x="${x(a).toFixed(1)}" y="${y}" width="${Math.max(0.5, x(b) - x(a)).toFixed(1)}" height="${rowH - 2}" fill="${color}"><title>m${k + 1} ${v?.role} term ${v?.term}, ${(a / 1000).toFixed(1)}-${(b / 1000).toFixed(1)} s</title></rect>`);
      j = e;
    }
    y += rowH;
  }
  y += 6;
  // Faults, one lane per kind.
  const kinds = [...new Set(faults.map((f) => f.kind))];
  for (const kind of kinds) {
    parts.push(`<text x="4" y="${y + 12}" font-size="10">${esc(kind)}</text>`);
    for (const f of faults.filter((e) => e.kind === kind)) {
      const e = f.end ?? end;
      parts.push(`<rect x="${x(f.start).toFixed(1)}" y="${y}" width="${Math.max(2, x(e) - x(f.start)).toFixed(1)}" height="${rowH - 6}" fill="${FAULT_COLOR[kind] ?? '#333'}"><title>${esc(`${kind} ${f.target} ${(f.start / 1000).toFixed(1)}-${(e / 1000).toFixed(1)} s`)}</title></rect>`);
    }
    y += rowH - 4;
  }
  y += 10;
  // Latency of every operation at its call time (log scale, 1 ms to 10 s).
  const latTop = y;
  const latH = 160;
  const ly = (ms: number) => latTop + latH - (Math.log10(Math.max(1, Math.min(ms, 10_000))) / 4) * latH;
  parts.push(`<text x="4" y="${latTop + 10}" font-size="10">latency</text>`);
  for (const ms of [1, 10, 100, 1000, 10000]) parts.push(`<line x1="${left}" x2="${W - 10}" y1="${ly(ms)}" y2="${ly(ms)}" stroke="#eee"/><text x="${left - 4}" y="${ly(ms) + 3}" font-size="9" text-anchor="end">${ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`}</text>`);
  const color = { ok: '#2ca02c', fail: '#d62728', unknown: '#ff7f0e' } as const;
  // Many operations: draw at most 20,000 dots, failures and unknowns always.
  const step = Math.max(1, Math.ceil(ops.length / 20_000));
  ops.forEach((o, i) => {
    if (o.outcome === 'ok' && i % step !== 0) return;
    parts.push(`<circle cx="${x(o.call).toFixed(1)}" cy="${ly(o.ret - o.call).toFixed(1)}" r="1.5" fill="${color[o.outcome]}"/>`);
  });
  y = latTop + latH + 20;
  for (let t = 0; t <= end; t += end > 120_000 ? 60_000 : 10_000) parts.push(`<text x="${x(t)}" y="${y}" font-size="9" text-anchor="middle">${(t / 1000).toFixed(0)}s</text>`);
  y += 10;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" font-family="sans-serif">${parts.join('')}</svg>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>orch chaos run, seed ${s.seed}</title></head><body style="font-family:sans-serif">
<h1>orch chaos run: ${s.ok ? 'PASS' : 'FAIL'}</h1>
<pre>${esc(summaryText(s))}</pre>
<p>Rows m1..: green = leader, pale = follower, orange = candidate, grey = not answering. Fault lanes below; then each operation's latency at its start (green ok, orange unknown, red failed).</p>
${svg}
</body></html>`;
}
