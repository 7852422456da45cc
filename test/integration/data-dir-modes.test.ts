// The data dirs hold secrets (a manager's Raft log carries the cluster's CA key; every node's
// tls/ holds its private key): after real writes, every directory under a manager's and a worker's
// data dir is 0700 and no file in them is readable (or writable) by group or others. A data dir
// left readable by an earlier version is tightened at the next start.
import t from 'tap';
import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessCluster } from '../helpers/cluster.js';
import { until } from '../helpers/docker-cluster.js';

/** Every path under `dir` (itself included) with its permission bits. */
function modes(dir: string): { path: string; mode: number; isDir: boolean }[] {
  const out = [{ path: dir, mode: lstatSync(dir).mode & 0o777, isDir: true }];
  for (const ent of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(ent.parentPath, ent.name);
    out.push({ path, mode: lstatSync(path).mode & 0o777, isDir: ent.isDirectory() });
  }
  return out;
}

function exposed(dir: string): string[] {
  return modes(dir)
    .filter((e) => (e.isDir ? e.mode !== 0o700 : (e.mode & 0o077) !== 0))
    .map((e) => `${e.path} ${e.mode.toString(8)}`);
}

t.test('manager and worker data dirs are 0700 and their files private after writes', async (t) => {
  const c = await ProcessCluster.start({ managers: 3, secure: true, snapshotEvery: 50, keepEntries: 10 });
  t.teardown(() => c.stop());
  const first = await c.waitForLeader(60_000);
  const client = c.client({ deadlineMs: 20_000 });
  t.teardown(() => client.close());
  const w = c.startWorker('w1', process.env.DOCKER_HOST ?? 'unix:///tmp/orch-docker/docker.sock', 200, ['--runtime', 'sim']);
  await until(async () => (await client.nodes()).some((n) => n.name === 'w1' && n.status === 'ready'), 60_000);
  // Enough writes for a snapshot file and LevelDB's own files (log, manifest, tables).
  for (let k = 0; k < 120; k++) await client.kvPut(`m/${k}`, 'x'.repeat(200));
  const leader = c.managers[first.index];
  await until(async () => readdirSync(leader.dataDir).some((f) => f.startsWith('raft-snapshot-')), 20_000);

  for (const [who, dir] of [...c.managers.map((m, k) => [`manager ${k + 1}`, m.dataDir] as const), ['worker w1', w.dataDir] as const]) {
    const all = modes(dir);
    t.ok(all.some((e) => e.path.endsWith('.log')) && all.some((e) => e.path.endsWith('node-key.pem')), `${who}: ${all.length} paths, LevelDB's and the TLS files among them`);
    t.same(exposed(dir), [], `${who}: the dir and every dir under it are 0700, no file is open to group or others`);
  }

  // A data dir left open by an earlier version: tightened when the manager starts again.
  const k = (first.index + 1) % 3;
  const m = c.managers[k];
  await c.kill(k, 'SIGTERM');
  chmodSync(m.dataDir, 0o755);
  const opened = modes(m.dataDir).filter((e) => !e.isDir);
  for (const e of opened) chmodSync(e.path, 0o644);
  t.ok(exposed(m.dataDir).length > opened.length, 'made readable by others, as an earlier version left it');
  c.spawn(k);
  await c.waitForLeader(60_000);
  t.same(exposed(m.dataDir), [], 'after the restart, private again');
});
