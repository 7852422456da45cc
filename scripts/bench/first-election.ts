// A fresh cluster's first election, as a user sees it: from spawning 3 manager processes to the
// moment one of them answers as leader with the others following. Prints each run and the median.
//   npm run build && node build/scripts/bench/first-election.js [--runs 5]
import { ProcessCluster } from '../../test/helpers/cluster.js';
import { launcherArg } from './lib/args.js';

const k = process.argv.indexOf('--runs');
const runs = k >= 0 ? Number(process.argv[k + 1]) : 5;
if (!Number.isSafeInteger(runs) || runs < 1) {
  console.error(`--runs: expected a positive integer, got ${JSON.stringify(process.argv[k + 1])}`);
  process.exit(2);
}
const times: number[] = [];
for (let r = 0; r < runs; r++) {
  const t0 = Date.now();
  const c = await ProcessCluster.start({ managers: 3, launcher: launcherArg() });
  const { status } = await c.waitForLeader(15_000);
  const ms = Date.now() - t0;
  times.push(ms);
  console.log(`  run ${r + 1}: leader ${status.id} in term ${status.term} after ${ms} ms`);
  await c.stop();
}
times.sort((a, b) => a - b);
console.log(`first-election: spawn -> leader, median ${times[Math.floor(times.length / 2)]} ms, max ${times[times.length - 1]} ms over ${runs} runs (target: within 2000 ms)`);
