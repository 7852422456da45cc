// Membership changes on real manager processes under write load: a learner that does not count,
// growing 3 -> 5 with `orch manager --join`, shrinking 5 -> 3 with `orch manager remove` (the leader
// among the removed), ids never reused, no acknowledged write lost, and no stretch without
// acknowledged writes (hence without a leader) longer than one election.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { request } from 'undici';
import { ProcessCluster, freePort } from '../helpers/cluster.js';
import { sleep, startWriters } from '../helpers/writers.js';

const run = promisify(execFile);
const ORCH = new URL('../../../bin/orch.js', import.meta.url).pathname;
const ELECTION_MS = 1000;

async function orch(c: ProcessCluster, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [ORCH, ...args, '--manager', c.addresses.filter((_, k) => c.managers[k].running).join(',')], { timeout: 60_000 });
  return stdout;
}

/** Polls until `pred` holds for /v1/cluster, or fails naming what was seen. */
async function waitCluster(c: ProcessCluster, what: string, pred: (ms: { id: number; suffrage?: string; reachable: boolean }[]) => boolean, timeoutMs = 30_000) {
  const client = c.client({ deadlineMs: 5_000 });
  const deadline = Date.now() + timeoutMs;
  let last = '';
  try {
    while (Date.now() < deadline) {
      try {
        const info = await client.cluster();
        last = JSON.stringify(info.managers.map((m) => [m.id, m.suffrage, m.reachable]));
        if (pred(info.managers)) return info;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(100);
    }
  } finally {
    await client.close();
  }
  throw new Error(`${what}: not within ${timeoutMs} ms (last: ${last})\n${c.logTails()}`);
}

t.test('grow 3 -> 5 and shrink 5 -> 3 under writes: nothing lost, never leaderless for long', async (t) => {
  const c = await ProcessCluster.start({ managers: 3, electionMs: ELECTION_MS });
  t.teardown(() => c.stop());
  await c.waitForLeader(15_000);
  const client = c.client({ deadlineMs: 20_000 });
  t.teardown(() => client.close());
  const writers = startWriters(client, { concurrency: 4, maxWrites: 200_000, maxMs: 120_000, key: (w, n) => `m/${w}/${n}` });
  await sleep(1000);

  // A learner at an address where nothing runs: listed as a learner, and it does not count.
  const ghost = `127.0.0.1:${await freePort()}`;
  const added = await client.addManager(ghost);
  t.equal(added.id, 4, 'the first added manager gets id 4');
  let info = await waitCluster(c, 'the ghost listed as a learner', (ms) => ms.some((m) => m.id === 4 && m.suffrage === 'learner'));
  t.notOk(info.managers.find((m) => m.id === 4)!.reachable, 'and unreachable');
  const table = await orch(c, 'cluster');
  t.match(table, /SUFFRAGE/, 'orch cluster has a suffrage column');
  t.match(table.split('\n').find((l) => l.includes(ghost)) ?? '', /learner/, `orch cluster shows ${ghost} as a learner`);
  const acks = writers.log.acked.size;
  await sleep(500);
  t.ok(writers.log.acked.size > acks, 'writes commit while a learner is unreachable (learners do not count)');
  t.match(await orch(c, 'manager', 'remove', '4'), /removed manager 4/, 'orch manager remove 4 removes the learner');
  await t.rejects(client.addManager(c.addresses[0]), /address-in-use|has the address/, 'a member\'s address cannot join again');

  // Grow: two managers join through a follower-or-leader address; ids 5 and 6 (4 is never reused).
  const k5 = await c.addManager(c.addresses[1]);
  info = await waitCluster(c, 'manager 5 a voter', (ms) => ms.some((m) => m.id === 5 && m.suffrage === 'voter' && m.reachable));
  const k6 = await c.addManager(c.addresses[0]);
  info = await waitCluster(c, 'manager 6 a voter', (ms) => ms.filter((m) => m.suffrage === 'voter' && m.reachable).length === 5 && ms.some((m) => m.id === 6));
  t.same(info.managers.filter((m) => m.suffrage === 'voter').map((m) => m.id), [1, 2, 3, 5, 6], 'five voters: 1, 2, 3 and the joined 5, 6 (4 was not reused)');
  c.managers[k5].joinedId = 5;
  c.managers[k6].joinedId = 6;
  let leader5 = await c.waitForLeader(15_000);
  await c.waitForApplied(k6, leader5.status.commit, 30_000);
  t.pass('the joined managers caught up with the log');
  // A joined manager restarts from its data dir (its id and address book are in it).
  await c.kill(k6);
  c.spawn(k6);
  leader5 = await c.waitForLeader(15_000);
  const back = await c.waitForApplied(k6, leader5.status.commit, 30_000);
  t.equal(back.id, 6, 'manager 6 restarted (kill -9) under its id and caught up');

  // Shrink: remove the leader (it hands over first) and one joined manager, with the CLI.
  const leaderId = leader5.status.id;
  const other = leaderId === 5 ? 6 : 5;
  const leaderK = leader5.index;
  t.match(await orch(c, 'manager', 'remove', String(leaderId)), new RegExp(`removed manager ${leaderId}`), `the leader (manager ${leaderId}) is removed`);
  t.match(await orch(c, 'manager', 'remove', String(other)), new RegExp(`removed manager ${other}`), `manager ${other} is removed`);
  info = await waitCluster(c, 'three voters', (ms) => ms.filter((m) => m.suffrage === 'voter').length === 3);
  const voters = info.managers.filter((m) => m.suffrage === 'voter').map((m) => m.id);
  t.notOk(voters.includes(leaderId) || voters.includes(other), `voters now ${voters.join(',')}`);
  // A removed manager learns it and stops.
  const removedK = [leaderK, c.indexOfId(other)];
  for (const k of removedK) {
    const code = await Promise.race([c.managers[k].exited, sleep(15_000).then(() => 'still running')]);
    t.equal(code, 0, `removed manager ${c.managers[k].address} exited by itself`);
  }
  await sleep(1000);
  const log = await writers.stop();

  // Nothing acknowledged is lost; the remaining managers agree.
  const all = new Map((await client.kvList('m/')).map((i) => [i.key, i.value]));
  let missing = 0;
  for (const [k, v] of log.acked) if (all.get(k) !== v) missing++;
  t.ok(log.acked.size > 500, `${log.acked.size} writes acknowledged during the changes (${log.failed} failed and were retried by nobody)`);
  t.equal(missing, 0, 'every acknowledged write is present');
  const times = log.ackTimes.slice().sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
  t.ok(gap < 2 * ELECTION_MS, `the longest stretch without an acknowledged write was ${gap} ms (one election: up to ${2 * ELECTION_MS} ms)`);
  const final = await c.waitForLeader(15_000, c.managers.map((_, k) => k).filter((k) => c.managers[k].running));
  const running = c.managers.map((_, k) => k).filter((k) => c.managers[k].running);
  t.equal(running.length, 3, 'three managers run');
  const digests = new Set<string>();
  for (const k of running) {
    await c.waitForApplied(k, final.status.commit, 30_000);
    const res = await request(`http://${c.managers[k].address}/raft/status?digest=true`);
    const st = (await res.body.json()) as { applied: number; digest: string };
    digests.add(`${st.applied}:${st.digest}`);
  }
  t.equal(digests.size, 1, `the remaining managers hold the same state (${[...digests].join(' ')})`);
});

t.test('bad membership requests are refused with the reason', async (t) => {
  const c = await ProcessCluster.start({ managers: 3 });
  t.teardown(() => c.stop());
  await c.waitForLeader(15_000);
  const client = c.client({ deadlineMs: 5_000 });
  t.teardown(() => client.close());
  await t.rejects(client.addManager('no-port'), /address/, 'an address without a port');
  await t.rejects(client.removeManager(42), /no manager 42/, 'an unknown id');
  await t.rejects(orch(c, 'manager', 'remove', 'x'), /positive integer/, 'a non-numeric id, named');
  await t.rejects(
    run(process.execPath, [ORCH, 'manager', '--listen', '127.0.0.1:1', '--data-dir', '/tmp/none', '--join', c.addresses[0], '--peers', c.addresses.join(',')]),
    /give one/,
    '--join with --peers is refused',
  );
  // With one of 3 managers down, removing a live one would leave 2 voters, one dead: refused.
  const { index: li, status } = await c.waitForLeader(15_000);
  const down = [0, 1, 2].find((k) => k !== li)!;
  await c.kill(down);
  const live = [0, 1, 2].find((k) => k !== li && k !== down)!;
  const liveId = (await c.status(live))!.id;
  await t.rejects(client.removeManager(liveId), /would-lose-quorum|only 1 answer/, 'a removal that would leave no answering majority is refused');
  t.equal((await c.status(li))!.suffrage ?? 'voter', 'voter', `the leader (manager ${status.id}) is still a voter`);
});

t.test('a TLS cluster: a manager joins with the manager token over mutual TLS, and is removed', async (t) => {
  const c = await ProcessCluster.start({ managers: 3, secure: true });
  t.teardown(() => c.stop());
  await c.waitForLeader(30_000);
  const client = c.client({ deadlineMs: 10_000 });
  t.teardown(() => client.close());
  await client.kvPut('tls/before', 'x');
  const k = await c.addManager(c.addresses[2]);
  const info = await waitCluster(c, 'the TLS joiner a voter', (ms) => ms.some((m) => m.id === 4 && m.suffrage === 'voter' && m.reachable), 60_000);
  t.equal(info.managers.filter((m) => m.suffrage === 'voter').length, 4, 'four voters, the joiner among them');
  const leader = await c.waitForLeader(15_000);
  const st = await c.waitForApplied(k, leader.status.commit, 30_000);
  t.equal(st.id, 4, 'the joiner (manager 4) caught up over mutual TLS');
  const removed = await client.removeManager(4);
  t.same(removed.conf.voters, [1, 2, 3], 'removed again');
  const code = await Promise.race([c.managers[k].exited, sleep(15_000).then(() => 'still running')]);
  t.equal(code, 0, 'the removed TLS manager exited by itself');
  t.equal((await client.kvGet('tls/before')).value, 'x', 'the data is intact');
});
