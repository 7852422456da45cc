// A manager with 100,000 tasks in its state: the RSS of each manager, and the start-up time of a
// manager whose log and snapshot hold them (kill -9, restart, until it answers having applied
// everything the cluster had committed). Tasks run on simulated nodes (one worker process, no Docker).
//   npm run bench:state-size [-- --tasks 100000 --nodes 100]
import { ProcessCluster } from '../../test/helpers/cluster.js';
import { positiveIntArg, launcherArg } from './lib/args.js';

const tasks = positiveIntArg('tasks', 100_000);
const nodes = positiveIntArg('nodes', 100);
const c = await ProcessCluster.start({ managers: 3, instrument: false, launcher: launcherArg() });
const client = c.client({ deadlineMs: 60_000, timeoutMs: 30_000 });
try {
  const { index: li } = await c.waitForLeader();
  const perNode = Math.ceil(tasks / nodes) + 10;
  c.startWorker('sim', '', 1000, ['--runtime', 'sim', '--sim-nodes', String(nodes), '--sim-cpu', String(perNode), '--sim-memory', `${perNode}GiB`]);
  const t0 = performance.now();
  for (;;) {
    if ((await client.nodes()).filter((n) => n.status === 'ready').length >= nodes) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await client.createService({ name: 'bench', image: 'anything:latest', replicas: tasks });
  let running = 0;
  while (running < tasks) {
    await new Promise((r) => setTimeout(r, 1000));
    // The counts only: the whole task list (38 MB of JSON) once a second would weigh on the manager measured.
    running = (await client.serviceSummary('bench')).running;
    if (performance.now() - t0 > 600_000) throw new Error(`only ${running} of ${tasks} running after 10 minutes`);
  }
  const placedS = (performance.now() - t0) / 1000;
  const rss = c.managers.map((_, k) => Math.round(c.rssKiB(k) / 1024));
  // One look is one moment (a manager may be taking a snapshot just then): also the highest over
  // the next 10 s, sampled every 250 ms, with nothing asked of the cluster meanwhile.
  const rssMax = [...rss];
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 250));
    c.managers.forEach((_, k) => (rssMax[k] = Math.max(rssMax[k], Math.round(c.rssKiB(k) / 1024))));
  }
  const rssSettled = c.managers.map((_, k) => Math.round(c.rssKiB(k) / 1024));
  const trims = await Promise.all(c.addresses.map(async (a) => {
    const text = await (await fetch(`http://${a}/metrics`)).text();
    return Number(/^orch_heap_trims_total (\d+)/m.exec(text)?.[1] ?? NaN);
  }));
  const follower = c.managers.findIndex((_, k) => k !== li);
  const target = (await c.status(li))!.commit;
  await c.kill(follower);
  const t1 = performance.now();
  c.spawn(follower);
  await c.waitForApplied(follower, target, 120_000);
  const startS = (performance.now() - t1) / 1000;
  console.log(`state-size: ${tasks} tasks running on ${nodes} simulated nodes (${placedS.toFixed(1)} s from the create)`);
  const role = (k: number) => (k === li ? 'leader' : 'follower');
  console.log(`  manager RSS when the last task ran: ${rss.map((m, k) => `${role(k)} ${m} MiB`).join(', ')} (target under 300 MB, which is 286 MiB)`);
  console.log(`  highest over the next 10 s: ${rssMax.map((m, k) => `${role(k)} ${m} MiB`).join(', ')}`);
  console.log(`  10 s later: ${rssSettled.map((m, k) => `${role(k)} ${m} MiB`).join(', ')} (heap trims so far: ${trims.join(', ')})`);
  console.log(`  restart of a follower (kill -9) until it has applied index ${target}: ${startS.toFixed(2)} s (target under 3 s)`);
  process.stdout.write(JSON.stringify({ bench: 'state-size', launcher: launcherArg(), tasks, nodes, placedS, rssMiB: rss, rssMaxMiB: rssMax, rssSettledMiB: rssSettled, heapTrims: trims, leader: li, restartS: startS }) + '\n');
} finally {
  await client.close();
  await c.stop();
}
