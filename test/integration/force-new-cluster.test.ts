// Quorum loss recovery: two of three managers are gone for good; the survivor, restarted with
// --force-new-cluster and --peers naming only itself, becomes a one-manager cluster from its own
// log (over a snapshot that names the old voters), and the services and data come back.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ORCH_BIN, ProcessCluster } from '../helpers/cluster.js';
import { until } from '../helpers/docker-cluster.js';
import { OrchClient } from '../../src/client/client.js';

function orchManager(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => execFile(process.execPath, [ORCH_BIN, 'manager', ...args], { timeout: 20_000 }, (err, _o, stderr) => resolve({ code: err ? 1 : 0, stderr })));
}

t.test('--force-new-cluster on the last survivor of 3 managers brings the services back', async (t) => {
  const c = await ProcessCluster.start({ managers: 3, snapshotEvery: 50, keepEntries: 10 });
  const client = c.client({ deadlineMs: 20_000 });
  let survivorClient: OrchClient | null = null;
  t.teardown(async () => {
    await client.close();
    await survivorClient?.close();
    await c.stop();
  });
  await c.waitForLeader();
  c.startWorker('sim', '', 500, ['--runtime', 'sim', '--sim-nodes', '2']);
  await until(async () => (await client.nodes()).filter((n) => n.status === 'ready').length === 2);
  await client.createService({ name: 'web', image: 'anything:1', replicas: 4 });
  await until(async () => (await client.tasks({ service: 'web' })).filter((x) => x.state === 'running').length === 4);
  for (let k = 0; k < 100; k++) await client.kvPut(`data/${k}`, `v${k}`);
  const { index: leader } = await c.waitForLeader();
  const k = (leader + 1) % 3; // the survivor: a follower, which is the harder case
  await c.waitForApplied(k, (await c.status(leader))!.commit);
  const first = ((await c.status(k)) as unknown as { firstIndex: number }).firstIndex;
  t.ok(first > 1, `the survivor's log was compacted into a snapshot of the old cluster (first index ${first})`);
  for (const j of [0, 1, 2]) if (j !== k) await c.kill(j);
  await c.kill(k);
  const self = c.managers[k].address;

  const all = await orchManager(['--insecure', '--listen', self, '--peers', c.addresses.join(','), '--data-dir', c.managers[k].dataDir, '--force-new-cluster']);
  t.match(all.stderr, /--force-new-cluster: --peers must name only this manager/, 'refused while --peers names the others');
  const empty = mkdtempSync(join(tmpdir(), 'orch-empty-'));
  const none = await orchManager(['--insecure', '--listen', self, '--peers', self, '--data-dir', empty, '--force-new-cluster']);
  t.match(none.stderr, /--force-new-cluster: data dir .* holds no cluster data/, 'refused on a data dir with no cluster data');

  c.spawn(k, { peers: [self], extra: ['--force-new-cluster'] });
  const st = await until(async () => {
    const s = await c.status(k);
    return s?.role === 'leader' ? s : false;
  }, 15_000);
  t.equal(st.role, 'leader', 'the survivor leads a cluster of one');
  survivorClient = new OrchClient([self], { deadlineMs: 20_000 });
  const sc = survivorClient;
  const items = await sc.kvList('data/');
  t.equal(items.length, 100, 'every key written before is there');
  const svc = await until(async () => {
    const s = await sc.service('web');
    return s.running === 4 ? s : false;
  }, 20_000);
  t.equal(svc.running, 4, 'the service runs its 4 replicas again, reported by the worker that found the survivor');
  t.equal((await sc.kvPut('after', 'yes')).value, 'yes', 'and it takes writes');

  // A normal restart (no flag, --peers still only itself) keeps the new cluster: the snapshot taken
  // after the forced start names the new voter set.
  await c.kill(k, 'SIGTERM');
  c.spawn(k, { peers: [self] });
  await until(async () => (await c.status(k))?.role === 'leader', 15_000);
  t.equal((await sc.kvGet('after')).value, 'yes', 'restarted normally, it leads and holds the data');
});
