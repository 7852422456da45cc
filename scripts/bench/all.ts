// `npm run bench`: every comparison of the performance suite, one after another (never two at
// once: they would measure each other), each in its own process. Prints their figures as they go,
// then writes bench/results/<time>.json, latest.json, latest.md (the table for README's
// "Performance") and writes-vs-clients.svg (orch and etcd).
//   npm run bench [-- --quick]   (--quick: shorter runs, for a smoke test of the suite itself)
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const quick = process.argv.includes('--quick');
// Passed on to every benchmark: managers as `node bin/orch.js` instead of through bin/orch.
const launcherFlag = process.argv.includes('--no-launcher') ? ['--no-launcher'] : [];
const runs: [string, string[]][] = [
  ['raft-throughput', quick ? ['--seconds', '3', '--clients', '1,16,64'] : ['--clients', '1,4,16,64']],
  ['failover', quick ? ['--rounds', '3'] : []],
  ['swarm', quick ? ['--starts', '2'] : []],
  ['worker-loss', quick ? ['--rounds', '1'] : []],
  ['schedule', quick ? ['--nodes', '200', '--replicas', '20000'] : []],
  ['state-size', quick ? ['--tasks', '20000', '--nodes', '20'] : []],
];

function run(name: string, args: string[]): Promise<Record<string, unknown> | null> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--enable-source-maps', join(ROOT, 'build', 'scripts', 'bench', `${name}.js`), ...args, ...launcherFlag], { stdio: ['ignore', 'pipe', 'inherit'] });
    let last: Record<string, unknown> | null = null;
    let buf = '';
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let k;
      while ((k = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, k);
        buf = buf.slice(k + 1);
        if (line.startsWith('{"bench"')) last = JSON.parse(line) as Record<string, unknown>;
        else console.log(line);
      }
    });
    p.once('exit', (code) => {
      if (code !== 0) console.log(`  (${name} failed with exit code ${code})`);
      resolve(last);
    });
  });
}

interface Load {
  perSecond: number;
  p99: number;
}
type Results = Record<string, Record<string, unknown> | null>;

const fx = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : '–');
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

function table(r: Results): string {
  const rows: string[] = ['| what | orch | peer | orch / peer |', '|---|---|---|---|'];
  const rt = r['raft-throughput'] as { rows: { c: number; orch: Load; etcd?: Load }[] } | null;
  for (const x of rt?.rows ?? []) {
    if (x.c !== 16 && x.c !== 64) continue;
    rows.push(`| writes/s, ${x.c} clients (etcd) | ${Math.round(x.orch.perSecond)} | ${x.etcd ? Math.round(x.etcd.perSecond) : '–'} | ${x.etcd ? fx(x.orch.perSecond, x.etcd.perSecond) : '–'} |`);
    rows.push(`| p99, ${x.c} clients (etcd) | ${x.orch.p99.toFixed(1)} ms | ${x.etcd ? x.etcd.p99.toFixed(1) + ' ms' : '–'} | ${x.etcd ? fx(x.orch.p99, x.etcd.p99) : '–'} |`);
  }
  const fo = r.failover as { orch: { p50: number; max: number }; etcd?: { p50: number; max: number } } | null;
  if (fo) {
    rows.push(`| failover p50: kill -9 to first write (etcd) | ${fo.orch.p50.toFixed(0)} ms | ${fo.etcd ? fo.etcd.p50.toFixed(0) + ' ms' : '–'} | ${fo.etcd ? fx(fo.orch.p50, fo.etcd.p50) : '–'} |`);
    rows.push(`| failover max (etcd) | ${fo.orch.max.toFixed(0)} ms | ${fo.etcd ? fo.etcd.max.toFixed(0) + ' ms' : '–'} | ${fo.etcd ? fx(fo.orch.max, fo.etcd.max) : '–'} |`);
  }
  const sw = r.swarm as { sizes: number[]; orch: { toN: Record<string, number>; startMs: number[] }; swarm: { toN: Record<string, number>; startMs: number[] } | null; engineFloor?: Record<string, { ms: number; cpuS: number }>; cores?: number } | null;
  if (sw) {
    sw.sizes.forEach((n, k) => rows.push(`| ${k === 0 ? `${n} replicas running` : `scaled to ${n}`} (swarm) | ${s(sw.orch.toN[n])} | ${sw.swarm ? s(sw.swarm.toN[n]) : '–'} | ${sw.swarm ? fx(sw.orch.toN[n], sw.swarm.toN[n]) : '–'} |`));
    if (sw.engineFloor) sw.sizes.forEach((n) => rows.push(`| the engine alone: ${n} containers created and started in parallel through its API (the machine's CPU meanwhile over ${sw.cores} cores: an estimated floor) | ${s(sw.engineFloor![n].ms)} (${(sw.engineFloor![n].cpuS / sw.cores!).toFixed(2)} s of CPU per core) | | |`));
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
    if (sw.swarm) rows.push(`| one task started: orch run --wait (docker run -d) | ${s(med(sw.orch.startMs))} | ${s(med(sw.swarm.startMs))} | ${fx(med(sw.orch.startMs), med(sw.swarm.startMs))} |`);
  }
  const wl = r['worker-loss'] as { ms: number[] } | null;
  if (wl) rows.push(`| worker kill -9 → tasks running elsewhere (max of ${wl.ms.length}; target < 5 s) | ${s(Math.max(...wl.ms))} | | |`);
  const sc = r.schedule as { nodes: number; placementsPerS: number } | null;
  if (sc) rows.push(`| placements/s, ${sc.nodes} simulated nodes (target ≥ 10,000) | ${Math.round(sc.placementsPerS)} | | |`);
  const ss = r['state-size'] as { tasks: number; rssMiB: number[]; rssMaxMiB?: number[]; rssSettledMiB?: number[]; restartS: number } | null;
  if (ss) {
    rows.push(`| manager RSS with ${ss.tasks} tasks (target < 300 MB = 286 MiB; the largest of 3) | ${Math.max(...ss.rssMiB)} MiB${ss.rssMaxMiB ? `; highest over the next 10 s ${Math.max(...ss.rssMaxMiB)} MiB` : ''}${ss.rssSettledMiB ? `; 10 s later ${Math.max(...ss.rssSettledMiB)} MiB` : ''} | | |`);
    rows.push(`| manager restart with ${ss.tasks} tasks (target < 3 s) | ${ss.restartS.toFixed(2)} s | | |`);
  }
  return rows.join('\n');
}

/** Writes/s against clients, orch and etcd, as an SVG line chart. */
function plot(r: Results): string | null {
  const rt = r['raft-throughput'] as { rows: { c: number; orch: Load; etcd?: Load }[] } | null;
  if (!rt || rt.rows.length === 0) return null;
  const W = 520, H = 320, L = 60, B = 40, T = 20, R = 100;
  const xs = rt.rows.map((x) => x.c);
  const maxY = Math.max(...rt.rows.flatMap((x) => [x.orch.perSecond, x.etcd?.perSecond ?? 0])) * 1.1;
  const lx = (c: number) => L + (Math.log2(c) - Math.log2(xs[0])) / Math.max(1e-9, Math.log2(xs[xs.length - 1]) - Math.log2(xs[0])) * (W - L - R);
  const ly = (v: number) => T + (1 - v / maxY) * (H - T - B);
  const line = (vals: (number | undefined)[], color: string, name: string) => {
    const pts = xs.map((c, k) => (vals[k] === undefined ? null : `${lx(c).toFixed(1)},${ly(vals[k]!).toFixed(1)}`)).filter(Boolean);
    if (pts.length === 0) return '';
    const last = pts[pts.length - 1]!.split(',');
    return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>${pts.map((p) => `<circle cx="${p!.split(',')[0]}" cy="${p!.split(',')[1]}" r="3" fill="${color}"/>`).join('')}<text x="${Number(last[0]) + 6}" y="${last[1]}" font-size="12" fill="${color}">${name}</text>`;
  };
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<line x1="${L}" x2="${W - R}" y1="${ly(f * maxY)}" y2="${ly(f * maxY)}" stroke="#eee"/><text x="${L - 6}" y="${ly(f * maxY) + 4}" font-size="10" text-anchor="end">${Math.round(f * maxY)}</text>`).join('');
  const xt = xs.map((c) => `<text x="${lx(c)}" y="${H - B + 16}" font-size="10" text-anchor="middle">${c}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif"><text x="${L}" y="14" font-size="12">replicated writes/s (3 replicas, 256 B) by concurrent clients</text>${ticks}${xt}<text x="${(L + W - R) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">clients</text>${line(rt.rows.map((x) => x.orch.perSecond), '#1f77b4', 'orch')}${line(rt.rows.map((x) => x.etcd?.perSecond), '#d62728', 'etcd')}</svg>\n`;
}

const results: Results = {};
const started = new Date();
for (const [name, args] of runs) {
  console.log(`\n== ${name} ${args.join(' ')}`);
  results[name] = await run(name, args);
}
const dir = join(ROOT, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const stamp = started.toISOString().replace(/[:.]/g, '-');
const doc = { startedAt: started.toISOString(), quick, node: process.version, results };
writeFileSync(join(dir, `${stamp}.json`), JSON.stringify(doc, null, 2) + '\n');
writeFileSync(join(dir, 'latest.json'), JSON.stringify(doc, null, 2) + '\n');
const md = `Made by \`npm run bench${quick ? ' -- --quick' : ''}\` on ${started.toISOString().slice(0, 10)} (Node ${process.version}); both systems on this machine in the same run.\n\n${table(results)}\n`;
writeFileSync(join(dir, 'latest.md'), md);
const svg = plot(results);
if (svg) writeFileSync(join(dir, 'writes-vs-clients.svg'), svg);
console.log(`\n${md}\nwritten: bench/results/${stamp}.json, latest.json, latest.md${svg ? ', writes-vs-clients.svg' : ''}`);
