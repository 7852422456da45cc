// Placement at scale: 3 managers, N simulated nodes (one worker process, --runtime sim), one service
// of R replicas. Prints the time until every task is placed and committed, placements per second,
// the time until all run, and the leader's memory.
//   npm run build && node build/scripts/bench/schedule.js [--nodes 1000 --replicas 100000]
import { request } from 'undici';
import { ProcessCluster } from '../../test/helpers/cluster.js';
import { positiveIntArg, launcherArg } from './lib/args.js';


const nodes = positiveIntArg('nodes', 1000);
const replicas = positiveIntArg('replicas', 100_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const c = await ProcessCluster.start({ managers: 3, launcher: launcherArg() });
try {
  const { index } = await c.waitForLeader(15_000);
  const leader = c.managers[index].address;
  c.startWorker('sim', '', 1000, ['--runtime', 'sim', '--sim-nodes', String(nodes), '--sim-cpu', '64', '--sim-memory', '256GiB']);
  const client = c.client({ deadlineMs: 60_000, timeoutMs: 60_000 });
  const joinStart = Date.now();
  while ((await client.nodes()).filter((n) => n.status === 'ready').length < nodes) {
    if (Date.now() - joinStart > 300_000) throw new Error('the simulated nodes did not all join in 5 minutes');
    await sleep(500);
  }
  console.log(`schedule: ${nodes} simulated nodes joined in ${((Date.now() - joinStart) / 1000).toFixed(1)} s`);
  const t0 = Date.now();
  await client.createService({ name: 'big', image: 'sim:latest', replicas, resources: { cpu: 0.1, memory: '64MiB' } });
  let placedAt = 0;
  let runningAt = 0;
  for (;;) {
    const res = await request(`http://${leader}/v1/services?stale=true`, { headersTimeout: 60_000, bodyTimeout: 60_000 });
    const [svc] = (await res.body.json()) as { placed: number; running: number }[];
    if (!placedAt && svc.placed >= replicas) placedAt = Date.now();
    if (svc.running >= replicas) {
      runningAt = Date.now();
      break;
    }
    if (Date.now() - t0 > 600_000) throw new Error(`only ${svc.placed} placed, ${svc.running} running after 10 minutes`);
    await sleep(200);
  }
  const status = (await (await request(`http://${leader}/raft/status`)).body.json()) as { memory: { rss: number; heapUsed: number } };
  const secs = (placedAt - t0) / 1000;
  console.log(`  ${replicas} tasks placed and committed in ${secs.toFixed(1)} s: ${Math.round(replicas / secs)} placements/s (target >= 10,000/s)`);
  console.log(`  all running (reported by the simulated workers) after ${((runningAt - t0) / 1000).toFixed(1)} s`);
  console.log(`  leader memory: rss ${Math.round(status.memory.rss / 2 ** 20)} MiB, heap ${Math.round(status.memory.heapUsed / 2 ** 20)} MiB`);
  process.stdout.write(JSON.stringify({ bench: 'schedule', launcher: launcherArg(), nodes, replicas, placementsPerS: replicas / secs, runningS: (runningAt - t0) / 1000, leaderRssMiB: status.memory.rss / 2 ** 20 }) + '\n');
  await client.close();
} finally {
  await c.stop();
}
