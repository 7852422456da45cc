// Seeded fault schedules against simulated 3- and 5-node clusters. Safety is checked at every
// Ready of every node; liveness once the faults stop. A failure prints the fast-check seed and
// path and the shrunk schedule, with the command that replays it.
import t from 'tap';
import fc from 'fast-check';
import { checkSchedule, scheduleArb } from '../sim/property.js';
import { simulate } from '../sim/cluster.js';

const seed = Number(process.env.ORCH_SIM_SEED ?? 20261123);
const numRuns = Number(process.env.ORCH_SIM_RUNS ?? 1000);

t.test(`${numRuns} random fault schedules keep Raft safe and live (seed ${seed})`, async (t) => {
  const totals = { acked: 0, leaders: 0, snapshots: 0, reads: 0, crashes: 0, dropped: 0, five: 0 };
  const out = fc.check(
    fc.property(scheduleArb(), (s) => {
      const res = checkSchedule(s);
      totals.acked += res.stats.acked;
      totals.leaders += res.stats.leaderChanges;
      totals.snapshots += res.stats.snapshotsInstalled;
      totals.reads += res.stats.readsChecked;
      totals.crashes += res.stats.crashes;
      totals.dropped += res.stats.dropped;
      if (s.nodes === 5) totals.five++;
    }),
    { seed, numRuns },
  );
  if (out.failed) {
    const violation = (out.errorInstance as Error | undefined)?.message ?? String(out.errorInstance);
    t.fail(`${fc.defaultReportMessage(out)}\nviolation: ${violation}\nreplay all: npm run sim -- --runs ${numRuns} --seed ${seed}`);
    return;
  }
  t.pass(`${numRuns} schedules passed`);
  t.comment(JSON.stringify(totals));
  // The runs must have exercised what they claim to check.
  t.ok(totals.acked > numRuns * 10, `writes were acknowledged (${totals.acked})`);
  t.ok(totals.leaders > numRuns, `leaders changed (${totals.leaders})`);
  t.ok(totals.snapshots > numRuns / 10, `followers installed snapshots (${totals.snapshots})`);
  t.ok(totals.reads > numRuns * 5, `linearizable reads were checked (${totals.reads})`);
  t.ok(totals.crashes > numRuns / 2, `nodes crashed (${totals.crashes})`);
  t.ok(totals.five > numRuns / 4 && totals.five < (numRuns * 3) / 4, `both 3- and 5-node clusters ran (${totals.five} of 5)`);
});

t.test('the Figure 8 sequence of crashes keeps committed entries (MIT 6.824 style)', async (t) => {
  // Crash the leader again and again with a lossy network, restarting nodes, for 5 nodes.
  for (let k = 0; k < 40; k++) {
    const faults = [];
    for (let at = 100; at < 2900; at += 120) {
      faults.push({ at, kind: 'crash-leader' as const, a: 0, b: 0 });
      faults.push({ at: at + 60, kind: 'restart' as const, a: (at / 120 + k) | 0, b: 0 });
    }
    const res = simulate({ nodes: 5, seed: 1000 + k, dropPercent: 10, dupPercent: 5, faults });
    if (!res.ok) {
      t.fail(`seed ${1000 + k}: ${res.violation}`);
      return;
    }
  }
  t.pass('40 runs of repeated leader crashes stayed safe and converged');
});
