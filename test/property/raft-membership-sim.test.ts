// Membership changes under faults in the deterministic simulator: nodes join as learners, are
// promoted, and members (leaders too) are removed while the network drops, partitions and crashes.
// Every invariant of the fault simulation holds at every Ready, plus "one change at a time"; after
// the faults, every member of the final configuration must have caught up.
import t from 'tap';
import fc from 'fast-check';
import { checkSchedule, membershipScheduleArb } from '../sim/property.js';

const seed = Number(process.env.ORCH_SIM_SEED ?? 20261124);
const numRuns = Number(process.env.ORCH_SIM_RUNS ?? 600);

t.test(`${numRuns} schedules of membership changes under faults stay safe and live (seed ${seed})`, async (t) => {
  const totals = { confChanges: 0, acked: 0, leaders: 0, snapshots: 0 };
  const arb = membershipScheduleArb();
  const out = fc.check(
    fc.property(arb, (s) => {
      const res = checkSchedule(s);
      totals.confChanges += res.stats.confChanges;
      totals.acked += res.stats.acked;
      totals.leaders += res.stats.leaderChanges;
      totals.snapshots += res.stats.snapshotsInstalled;
    }),
    { seed, numRuns },
  );
  if (out.failed) {
    const violation = (out.errorInstance as Error | undefined)?.message ?? String(out.errorInstance);
    t.fail(`${fc.defaultReportMessage(out)}\nviolation: ${violation}`);
    return;
  }
  t.pass(`${numRuns} schedules passed`);
  t.comment(JSON.stringify(totals));
  t.ok(totals.confChanges > numRuns * 2, `membership changes were made (${totals.confChanges})`);
  t.ok(totals.acked > numRuns * 10, `writes were acknowledged (${totals.acked})`);
  t.ok(totals.snapshots > numRuns / 10, `joiners and laggards installed snapshots (${totals.snapshots})`);
});
