// The cluster's allow-privileged policy is replicated state, not a manager's flag: managers
// restarted without --allow-privileged still enforce the policy the cluster was created with, and
// after `orch cluster update` every manager, leading or not, and the next leader enforce the new one.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { ORCH_BIN, ProcessCluster } from '../helpers/cluster.js';
import { until } from '../helpers/docker-cluster.js';

const run = promisify(execFile);
const powers = (name: string) => ({ name, image: 'orch/busybox:latest', replicas: 1, privileged: true });

async function settingsOn(c: ProcessCluster, k: number): Promise<{ allowPrivileged: boolean } | null> {
  const res = await c.request(k, 'GET', '/v1/cluster/settings?stale=true');
  return res.status === 200 ? (JSON.parse(res.text) as { allowPrivileged: boolean }) : null;
}

/** The status of creating a privileged service through manager k only. */
async function createThrough(c: ProcessCluster, k: number, name: string): Promise<number> {
  const client = c.client({ managers: [c.addresses[k]], deadlineMs: 20_000 });
  try {
    await client.createService(powers(name));
    return 201;
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status === undefined) throw err;
    // Said where a test reads it: which refusal it was, if one was not expected.
    t.comment(`creating ${name} through manager ${k}: ${status} ${(err as Error).message}`);
    return status;
  } finally {
    await client.close();
  }
}

t.test('allow-privileged: the cluster keeps the policy it was created with, and a change holds on every manager', async (t) => {
  const c = await ProcessCluster.start({ managers: 3, secure: true, extraArgs: ['--allow-privileged'] });
  t.teardown(() => c.stop());
  await c.waitForLeader(30_000);
  // A manager answers its own flag until the seed is in the replicated state: wait for the leader to
  // say the seed committed, or the restart below could come first and the cluster be seeded without it.
  const seeded = () => c.managers.some((m) => existsSync(m.logFile) && readFileSync(m.logFile, 'utf8').includes("the cluster's settings are in the replicated state"));
  t.ok(await until(async () => seeded(), 20_000), 'the first leader seeded the settings from its flags');
  for (let k = 0; k < 3; k++) t.ok(await until(async () => (await settingsOn(c, k))?.allowPrivileged === true, 20_000), `manager ${k} has allowPrivileged true`);

  // Every manager restarted without the flag: whichever leads now was started without it.
  for (let k = 0; k < 3; k++) await c.kill(k, 'SIGTERM');
  for (let k = 0; k < 3; k++) c.spawn(k, { extraArgs: [] });
  const { index: leader } = await c.waitForLeader(30_000);
  t.equal(await createThrough(c, leader, 'root'), 201, 'a leader started without the flag still allows a privileged service: the cluster\'s policy');

  // The change, through a follower, with the CLI.
  const follower = (leader + 1) % 3;
  const { stdout } = await run(process.execPath, [ORCH_BIN, 'cluster', 'update', '--allow-privileged', 'false', '--manager', c.addresses[follower], '--token', c.tokens().admin, '--json']);
  t.same(JSON.parse(stdout), { allowPrivileged: false, allowHostNetwork: true }, 'orch cluster update --allow-privileged false answers the new settings');
  for (let k = 0; k < 3; k++) {
    await until(async () => (await settingsOn(c, k))?.allowPrivileged === false, 20_000);
    t.equal(await createThrough(c, k, `root${k}`), 403, `refused through manager ${k}${k === leader ? ' (the leader)' : ''}`);
  }
  // The next leader, also started without the flag, enforces the change too.
  await c.kill(leader);
  const { index: next } = await c.waitForLeader(30_000, [0, 1, 2].filter((k) => k !== leader));
  t.equal(await createThrough(c, next, 'root-next'), 403, 'refused by the next leader');
  const again = await c.request(next, 'PATCH', '/v1/cluster/settings', { body: { allowPrivileged: true } });
  t.equal(again.status, 200, 'allowed again through the API');
  t.equal(await createThrough(c, [0, 1, 2].find((k) => k !== leader && k !== next)!, 'root-again'), 201, 'and a privileged service is created');
});
