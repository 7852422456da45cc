// Worker loss: kill -9 of the worker that runs a service's tasks; time until all of them run on the
// other worker (the default 1 s heartbeat, 3 missed = down). Rounds alternate between the workers.
//   npm run bench:worker-loss [-- --rounds 3 --replicas 4]
import { ProcessCluster } from '../../test/helpers/cluster.js';
import { dockerEngine } from '../../test/helpers/docker-engine.js';
import { positiveIntArg, launcherArg } from './lib/args.js';

const rounds = positiveIntArg('rounds', 3);
const replicas = positiveIntArg('replicas', 4);
const engine = await dockerEngine();
const c = await ProcessCluster.start({ managers: 3, instrument: false, launcher: launcherArg() });
const client = c.client({ deadlineMs: 30_000 });
const until = async (ms: number, f: () => Promise<boolean>) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('timed out');
};
const times: number[] = [];
try {
  await c.waitForLeader();
  c.startWorker('w1', engine.host);
  c.startWorker('w2', engine.host);
  await until(30_000, async () => (await client.nodes()).filter((n) => n.status === 'ready').length === 2);
  await client.createService({ name: 'wl', image: 'orch/busybox:latest', command: ['sleep', '3600'], replicas, network: 'none' });
  const running = async () => (await client.tasks({ service: 'wl' })).filter((t) => t.state === 'running');
  await until(60_000, async () => (await running()).length === replicas);
  for (let r = 0; r < rounds; r++) {
    const nodes = await client.nodes();
    const byNode = new Map<string, number>();
    for (const t of await running()) byNode.set(t.nodeId!, (byNode.get(t.nodeId!) ?? 0) + 1);
    const victimId = [...byNode].sort((a, b) => b[1] - a[1])[0][0];
    const victim = c.workers.find((w) => w.name === nodes.find((n) => n.id === victimId)!.name)!;
    const t0 = performance.now();
    process.kill(victim.pid, 'SIGKILL');
    await until(60_000, async () => (await running()).filter((t) => t.nodeId !== victimId).length === replicas);
    times.push(performance.now() - t0);
    console.log(`  round ${r + 1}: ${replicas} tasks of ${victim.name} running elsewhere after ${(times[r] / 1000).toFixed(2)} s`);
    await victim.exited;
    c.startWorker(victim.name, engine.host);
    await until(30_000, async () => (await client.nodes()).filter((n) => n.status === 'ready').length === 2);
  }
  await client.stopService('wl');
  await until(60_000, async () => (await client.tasks({ service: 'wl' })).every((t) => ['shutdown', 'complete', 'failed', 'lost'].includes(t.state)));
  const sorted = [...times].sort((a, b) => a - b);
  console.log(`worker-loss: median ${(sorted[Math.floor(sorted.length / 2)] / 1000).toFixed(2)} s, max ${(sorted[sorted.length - 1] / 1000).toFixed(2)} s over ${rounds} (target under 5 s)`);
  process.stdout.write(JSON.stringify({ bench: 'worker-loss', launcher: launcherArg(), replicas, ms: times }) + '\n');
} finally {
  await client.close();
  await c.stop();
}
