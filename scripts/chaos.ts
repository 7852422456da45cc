// The chaos suite's long run: real managers and workers on loopback, real faults, real load, and a
// check of every recorded history. Writes summary.txt, summary.json, history.json and timeline.html
// to --out (default chaos-results/SEED-MANAGERS). Exits non-zero if any check fails.
//   npm run chaos -- --duration 10m --managers 3|5 --workers 2 --seed S [--out DIR]
import { join } from 'node:path';
import { parseDuration } from '../src/spec/index.js';
import { positiveIntArg } from './bench/lib/args.js';
import { runChaos } from './chaos/run.js';
import { summaryText } from './chaos/report.js';

function durationArg(name: string, dflt: number): number {
  const k = process.argv.indexOf(`--${name}`);
  if (k < 0) return dflt;
  const ms = parseDuration(process.argv[k + 1] ?? '');
  if (ms === null || ms <= 0) {
    console.error(`--${name}: expected a duration like 90s or 10m, got ${JSON.stringify(process.argv[k + 1])}`);
    process.exit(2);
  }
  return ms;
}

function stringArg(name: string): string | undefined {
  const k = process.argv.indexOf(`--${name}`);
  return k < 0 ? undefined : process.argv[k + 1];
}

const durationMs = durationArg('duration', 10 * 60_000);
const managers = positiveIntArg('managers', 3);
const workers = positiveIntArg('workers', 2);
const seed = positiveIntArg('seed', Math.floor(Math.random() * 1e9) + 1);
if (managers !== 3 && managers !== 5) {
  console.error(`--managers: expected 3 or 5, got ${managers}`);
  process.exit(2);
}
const outDir = stringArg('out') ?? join('chaos-results', `${seed}-${managers}m`);
const summary = await runChaos({ durationMs, managers, workers, seed, outDir });
console.log(summaryText(summary));
console.log(`report: ${join(outDir, 'timeline.html')} (replay with --seed ${seed})`);
process.exit(summary.ok ? 0 : 1);
