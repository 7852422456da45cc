// 200,000 writes with compaction on: the data dirs stay under a stated bound.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { ProcessCluster } from '../helpers/cluster.js';
import { startWriters } from '../helpers/writers.js';

const WRITES = Number(process.env.ORCH_COMPACTION_WRITES ?? 200_000);
/** The stated bound on a manager's data dir: the log between snapshots plus LevelDB's own slack. */
const BOUND_MIB = 64;

function duMiB(dir: string): number {
  return Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]) / 1024;
}

t.test(`${WRITES} writes with compaction on keep each data dir under ${BOUND_MIB} MiB`, async (t) => {
  const c = await ProcessCluster.start({ managers: 3, snapshotEvery: 10_000, keepEntries: 5_000 });
  t.teardown(() => c.stop());
  await c.waitForLeader();
  const client = c.client({ deadlineMs: 20_000 });
  t.teardown(() => client.close());
  const value = 'v'.repeat(256);
  const started = Date.now();
  const log = await startWriters(client, { concurrency: 64, maxWrites: WRITES, maxMs: 400_000, key: (w, n) => `k${(w * 7919 + n) % 1000}`, value: () => value }).done();
  const secs = (Date.now() - started) / 1000;
  t.ok(log.ackTimes.length >= WRITES * 0.99, `${log.ackTimes.length} of ${WRITES} writes acknowledged in ${secs.toFixed(0)} s (${Math.round(log.ackTimes.length / secs)}/s)`);
  const { status } = await c.waitForLeader();
  for (let k = 0; k < 3; k++) await c.waitForApplied(k, status.commit, 60_000);
  for (let k = 0; k < 3; k++) {
    const mib = duMiB(c.managers[k].dataDir);
    t.ok(mib < BOUND_MIB, `manager ${k}: data dir ${mib.toFixed(1)} MiB after ${status.commit} entries`);
  }
  const rs = (await (await fetch(`http://${c.managers[0].address}/raft/status`)).json()) as { firstIndex: number; stats: { snapshotsTaken: number; readys: number; entriesSaved: number } };
  // Group commit: many concurrent proposals share one synced write.
  t.ok(rs.stats.readys * 4 < rs.stats.entriesSaved, `${rs.stats.entriesSaved} entries persisted in ${rs.stats.readys} writes`);
  t.ok(rs.stats.snapshotsTaken >= Math.floor(WRITES / 10_000) - 1, `${rs.stats.snapshotsTaken} snapshots taken`);
  t.ok(rs.firstIndex > status.commit - 16_000, `the log starts at ${rs.firstIndex}: compacted`);
});
