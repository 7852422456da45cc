// Crash-restart of the whole cluster, and a manager whose data dir was wiped catching up by snapshot.
import t from 'tap';
import { ProcessCluster } from '../helpers/cluster.js';
import { startWriters } from '../helpers/writers.js';

async function localState(c: ProcessCluster, k: number): Promise<string> {
  const res = await fetch(`http://${c.managers[k].address}/v1/kv?stale=true`);
  return JSON.stringify(await res.json());
}

t.test('kill -9 of all three managers, restart: the state is identical', async (t) => {
  const c = await ProcessCluster.start({ managers: 3, snapshotEvery: 300, keepEntries: 50 });
  t.teardown(() => c.stop());
  await c.waitForLeader();
  const client = c.client();
  t.teardown(() => client.close());
  const w = startWriters(client, { concurrency: 8, maxWrites: 1000, maxMs: 30_000, key: (w, n) => `k${(w * 31 + n) % 97}` });
  const log = await w.done();
  t.equal(log.acked.size, 97, 'all 97 keys written');
  const { status } = await c.waitForLeader();
  for (let k = 0; k < 3; k++) await c.waitForApplied(k, status.commit);
  const before = await Promise.all([0, 1, 2].map((k) => localState(c, k)));
  t.equal(before[1], before[0], 'replicas agree before the crash');
  t.equal(before[2], before[0]);

  await Promise.all([0, 1, 2].map((k) => c.kill(k, 'SIGKILL')));
  for (let k = 0; k < 3; k++) c.spawn(k);
  const again = await c.waitForLeader(10_000);
  t.ok(again.status.term > status.term, 'a new term after the restart');
  for (let k = 0; k < 3; k++) await c.waitForApplied(k, status.commit);
  const after = await Promise.all([0, 1, 2].map((k) => localState(c, k)));
  for (let k = 0; k < 3; k++) t.equal(after[k], before[0], `manager ${k}'s state is identical after the restart`);
  for (const [key, value] of log.acked) t.equal((await client.kvGet(key)).value, value, `${key} acknowledged value survives`);
});

t.test('a manager whose data dir was wiped rejoins and catches up by snapshot', async (t) => {
  const c = await ProcessCluster.start({ managers: 3, snapshotEvery: 100, keepEntries: 20 });
  t.teardown(() => c.stop());
  const first = await c.waitForLeader();
  const client = c.client();
  t.teardown(() => client.close());
  const victim = (first.index + 1) % 3;
  await startWriters(client, { concurrency: 4, maxWrites: 200, maxMs: 30_000, key: (w, n) => `a/${w}/${n}` }).done();
  await c.kill(victim, 'SIGKILL');
  c.wipe(victim);
  await startWriters(client, { concurrency: 4, maxWrites: 300, maxMs: 30_000, key: (w, n) => `b/${w}/${n}` }).done();
  c.spawn(victim);
  const { status } = await c.waitForLeader();
  const st = await c.waitForApplied(victim, status.commit);
  const rs = (await (await fetch(`http://${c.managers[victim].address}/raft/status`)).json()) as { firstIndex: number };
  t.ok(rs.firstIndex > 1, `the wiped manager's log starts at ${rs.firstIndex}: it was rebuilt from a snapshot`);
  // The leader keeps only a durable snapshot's metadata in memory: what it sent was read from disk.
  const reads = await Promise.all(c.managers.map(async (m) => ((await (await fetch(`http://${m.address}/raft/status`)).json()) as { transport: { snapshotsReadFromDisk: number } }).transport.snapshotsReadFromDisk));
  t.ok(reads.reduce((a, b) => a + b, 0) >= 1, `snapshots read back from disk to send, by manager: ${reads.join(', ')}`);
  t.ok(st.applied >= status.commit, `it applied ${st.applied} of ${status.commit}`);
  const leaderState = await localState(c, (await c.waitForLeader()).index);
  t.equal(await localState(c, victim), leaderState, 'its state equals the leader\'s');
  t.equal((JSON.parse(leaderState) as unknown[]).length, 500, 'all 500 keys are there');
});

t.test('a manager whose log has a corrupt record refuses to start, naming the data dir and index', async (t) => {
  const c = await ProcessCluster.start({ managers: 3 });
  t.teardown(() => c.stop());
  const first = await c.waitForLeader();
  const client = c.client();
  t.teardown(() => client.close());
  await startWriters(client, { concurrency: 2, maxWrites: 20, maxMs: 10_000, key: (w, n) => `c/${w}/${n}` }).done();
  const victim = (first.index + 1) % 3;
  // Everything the leader has committed (the writes, and the leader's own entries).
  await c.waitForApplied(victim, (await c.status(first.index))!.commit);
  await c.kill(victim, 'SIGTERM');
  const { ClassicLevel } = await import('classic-level');
  const db = new ClassicLevel<Uint8Array, Uint8Array>(c.managers[victim].dataDir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const key = Buffer.alloc(9);
  key[0] = 0x65;
  key.writeUInt32BE(7, 5);
  const v = Buffer.from((await db.get(key))!);
  v[v.length - 2] ^= 0xff;
  await db.put(key, v);
  await db.close();
  c.spawn(victim);
  const code = await c.managers[victim].exited;
  t.not(code, 0, `the manager exited with code ${code}`);
  const { readFileSync } = await import('node:fs');
  const log = readFileSync(c.managers[victim].logFile, 'utf8');
  t.match(log, `orch: data dir ${c.managers[victim].dataDir}: the entry at index 7 is corrupt (checksum mismatch); to recover, stop this manager, remove it from the cluster`);
  const victimId = [...c.initialPeers].sort().indexOf(c.managers[victim].address) + 1;
  t.match(log, `"orch manager remove ${victimId}"`, 'the advice names the command with its id');
  t.match(log, /joins under a new id/, 'and says to join again under a new id, not to restart it empty');
  t.equal((await client.kvGet('c/0/0')).value, '0:0', 'the other two still serve');
  // The advice works: removed, its data dir moved away, it joins again under a new id and holds
  // every acknowledged write.
  t.equal((await client.removeManager(victimId)).removed, victimId, `manager ${victimId} removed`);
  const via = c.managers[first.index].address;
  c.retire(victim);
  const k = await c.addManager(via);
  const leader = await c.waitForLeader(20_000);
  await c.waitForApplied(k, leader.status.commit);
  const { OrchClient } = await import('../../src/client/client.js');
  const local = new OrchClient([c.managers[k].address]);
  t.teardown(() => local.close());
  const items = await local.kvList('c/', { stale: true });
  t.equal(items.length, 20, `joined again as a new manager, it holds all 20 writes (read from its own state)`);
});
