// Where the time of one `orch run --wait` goes: from spawning the CLI to the service's creation
// (the CLI's start-up and its request), from the creation to each of its task's states (the
// manager's rounds, the worker, the engine), and from "running" to the CLI's exit (how soon --wait
// sees it). Times are the events' timestamps (`orch events --json`), one clock on one machine.
//   npm run bench:start-breakdown [-- --starts 5]
import { execFile } from 'node:child_process';
import { ProcessCluster, ORCH_BIN } from '../../test/helpers/cluster.js';
import { dockerEngine } from '../../test/helpers/docker-engine.js';
import { positiveIntArg, launcherArg } from './lib/args.js';

const starts = positiveIntArg('starts', 5);
const engine = await dockerEngine();
const c = await ProcessCluster.start({ managers: 3, instrument: false, launcher: launcherArg() });
const client = c.client({ deadlineMs: 30_000 });

function orch(args: string[]): Promise<{ ms: number; stdout: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [ORCH_BIN, ...args], { env: { ...process.env, ORCH_MANAGER: c.addresses.join(',') }, timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`orch ${args.join(' ')}: ${stderr || err.message}`)) : resolve({ ms: performance.now() - t0, stdout }),
    ),
  );
}

interface Event { type: string; service?: string; name?: string; to?: string; ts: number }

try {
  await c.waitForLeader();
  c.startWorker('w1', engine.host);
  const deadline = Date.now() + 30_000;
  while (!(await client.nodes()).some((n) => n.status === 'ready')) {
    if (Date.now() > deadline) throw new Error('no worker ready after 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`start-breakdown: ${starts} times \`orch run --wait\` of one task (orch/busybox, --network none) on one worker`);
  console.log(`  orch --version: ${(await orch(['--version'])).ms.toFixed(0)} ms (the CLI's start-up alone)`);
  const rows: Record<string, number>[] = [];
  for (let k = 0; k < starts; k++) {
    const name = `breakdown${k}`;
    const spawnedAt = Date.now();
    const run = await orch(['run', 'orch/busybox:latest', '--name', name, '--network', 'none', '--wait', '--', 'sleep', '3600']);
    const events = (await orch(['events', '--json'])).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Event);
    const created = events.find((e) => e.type === 'service' && e.name === name)!.ts;
    const at = (to: string) => events.find((e) => e.type === 'task' && e.service === name && e.to === to)?.ts ?? NaN;
    const row = { total: run.ms, 'spawn->created': created - spawnedAt, 'created->pending': at('pending') - created, 'pending->assigned': at('assigned') - at('pending'), 'assigned->running': at('running') - at('assigned'), 'running->exit': spawnedAt + run.ms - at('running') };
    rows.push(row);
    console.log(`  ${Object.entries(row).map(([k2, v]) => `${k2} ${Number.isNaN(v) ? '-' : v.toFixed(0)}`).join(', ')} ms`);
    await client.stopService(name);
  }
  const median = (k: string) => rows.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(rows.length / 2)];
  console.log(`  median: ${Object.keys(rows[0]).map((k) => `${k} ${median(k).toFixed(0)}`).join(', ')} ms`);
  process.stdout.write(JSON.stringify({ bench: 'start-breakdown', starts, rows }) + '\n');
} finally {
  await client.close();
  await c.stop();
}
