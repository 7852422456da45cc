// Fail-stop, from outside, on a real TLS cluster of three manager processes: a manager whose disk
// write fails (a full tmpfs: ENOSPC; or an injected EIO) or whose state machine throws exits
// non-zero with one log line naming the error, and the clients' writes go on through the other
// managers within 3 s of the failure, with nothing acknowledged lost.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, unlinkSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessCluster, type ClusterOptions, type ManagerProcess } from '../helpers/cluster.js';
import { until } from '../helpers/docker-cluster.js';
import { startWriters } from '../helpers/writers.js';
import { FAIL_APPLY_ENV, FAIL_WRITE_ENV } from '../../src/manager/test-hooks.js';
import { EXIT_APPLY_FAILED, EXIT_DISK_FAILED } from '../../src/cli/commands/manager.js';

/** Clients' writes must succeed on the new leader within this long of the failure. */
const FAILOVER_MS = 3000;

/** Fills the file system of `dir` to the last page: a file of 1 MiB writes, then 4 KiB ones, until ENOSPC. */
function fillUp(dir: string): number {
  const fd = openSync(join(dir, 'filler'), 'w');
  let bytes = 0;
  try {
    for (const size of [1 << 20, 4096, 512]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (let k = 0; k < 100_000; k++) {
        try {
          bytes += writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return bytes;
}

async function exitWithin(m: ManagerProcess, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`manager ${m.address} did not exit within ${ms} ms`)), ms)));
  try {
    return await Promise.race([m.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function fatalLines(m: ManagerProcess): string[] {
  return readFileSync(m.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes('FATAL'));
}

/** The assertions used here, as a subtest has them. */
interface Checks {
  teardown(f: () => unknown): void;
  equal(found: unknown, wanted: unknown, message: string): boolean;
  not(found: unknown, notWanted: unknown, message: string): boolean;
  ok(v: unknown, message: string): boolean;
  match(found: unknown, pattern: RegExp | string, message: string): boolean;
  comment(...args: unknown[]): void;
  same(found: unknown, wanted: unknown, message: string): boolean;
}

/** When a manager other than `except` logged that it leads (after `since`), from its JSON log lines. */
function electedAt(c: ProcessCluster, except: number, since: number): number | undefined {
  const times = c.managers
    .filter((_, k) => k !== except)
    .flatMap((m) => readFileSync(m.logFile, 'utf8').split('\n'))
    .filter((l) => l.startsWith('{') && l.includes(' is leader in term '))
    .map((l) => (JSON.parse(l) as { time: number }).time)
    .filter((x) => x > since);
  return times.length ? Math.min(...times) : undefined;
}

interface Scenario {
  /** Which manager fails: the leader or a follower. */
  victim: 'leader' | 'follower';
  /** Makes manager k fail (from outside); called while the clients write. */
  fail: (c: ProcessCluster, k: number) => void;
  exitCode: number;
  /** What its one FATAL line must say. */
  line: RegExp;
  /** Also run a worker (no containers: --runtime sim) and check that it moves to the others and is never declared down. */
  worker?: boolean;
  /** Once the checks passed: the cause is removed, and the victim started again must catch up. */
  repair?: (c: ProcessCluster, k: number) => void;
}

/** After a failover, a worker's heartbeats reach the new leader: the worker is never declared down. */
const WATCH_WORKER_MS = 6000;

/**
 * Starts the cluster, writes through the client, makes the victim fail, and checks: it exits with
 * `exitCode` and one FATAL line; writes are acknowledged by the others within FAILOVER_MS of the
 * failure; every acknowledged write is readable afterwards.
 */
async function failStopUnderWrites(t: Checks, opts: ClusterOptions, s: Scenario, afterStop: () => void = () => undefined): Promise<void> {
  const c = await ProcessCluster.start({ managers: 3, secure: true, ...opts });
  t.teardown(async () => {
    await c.stop(true);
    afterStop();
    rmSync(c.dir, { recursive: true, force: true });
  });
  // A TLS cluster starts slowly when the machine is busy (the others join through the first).
  const first = await c.waitForLeader(60_000);
  const victim = s.victim === 'leader' ? first.index : (first.index + 1) % 3;
  const client = c.client({ deadlineMs: 20_000 });
  t.teardown(() => client.close());
  if (s.worker) {
    c.startWorker('w1', process.env.DOCKER_HOST ?? 'unix:///tmp/orch-docker/docker.sock', 250, ['--runtime', 'sim']);
    await until(async () => (await client.nodes()).some((n) => n.name === 'w1' && n.status === 'ready'), 60_000);
  }
  const writers = startWriters(client, { concurrency: 4, maxWrites: 200_000, maxMs: 60_000, key: (w, n) => `f/${w}/${n}` });
  await until(async () => writers.log.acked.size >= 30, 15_000);
  const failedAt = Date.now();
  s.fail(c, victim);
  const code = await exitWithin(c.managers[victim], 15_000);
  const exitedAt = Date.now();
  // Acknowledged after the victim exited: by another manager (the new leader, if the victim led).
  const firstAfter = () => writers.log.ackTimes.find((x) => x > exitedAt);
  await until(async () => firstAfter() !== undefined, 15_000).catch(() => undefined);
  const log = await writers.stop();
  const acked = firstAfter();

  t.equal(code, s.exitCode, `the failed manager exited with code ${code}`);
  const lines = fatalLines(c.managers[victim]);
  t.equal(lines.length, 1, `one FATAL line: ${lines.join(' | ')}`);
  t.match(lines[0] ?? '', s.line, 'it names the error');
  t.ok(acked !== undefined, 'writes were acknowledged after it exited');
  const took = (acked ?? Infinity) - failedAt;
  const elected = electedAt(c, victim, failedAt);
  t.ok(took <= FAILOVER_MS, `the first write acknowledged by another manager came ${took} ms after the failure (exit after ${exitedAt - failedAt} ms${elected ? `, a new leader after ${elected - failedAt} ms` : ''})`);
  if (took > FAILOVER_MS) t.comment(c.logTails(12));
  const next = await c.waitForLeader(10_000, [0, 1, 2].filter((k) => k !== victim));
  if (s.victim === 'leader') t.not(next.index, victim, `manager ${next.status.id} leads now`);
  else t.equal(next.index, first.index, 'the leader went on leading');
  if (s.worker) {
    // Three missed heartbeats (of 1 s, the managers' default) after the new leader's grace would
    // make it down: it must have found the new leader well before.
    const seen = new Set<string>();
    for (const end = Date.now() + WATCH_WORKER_MS; Date.now() < end; ) {
      for (const n of await client.nodes()) if (n.name === 'w1') seen.add(n.status);
      await new Promise((r) => setTimeout(r, 200));
    }
    t.same([...seen], ['ready'], `the worker stayed ready for ${WATCH_WORKER_MS} ms after the failover`);
  }
  // Nothing acknowledged is lost: a write whose entry the victim could not persist or apply was not acknowledged.
  const all = new Map((await client.kvList('f/')).map((i) => [i.key, i.value]));
  let missing = 0;
  for (const [k, v] of log.acked) if (all.get(k) !== v) missing++;
  t.equal(missing, 0, `all ${log.acked.size} acknowledged writes are present (${log.failed} failed)`);
  if (s.repair) {
    s.repair(c, victim);
    c.spawn(victim);
    const leader = await c.waitForLeader(60_000);
    const st = await c.waitForApplied(victim, leader.status.commit, 60_000);
    t.ok(st.applied >= leader.status.commit, `started again after the repair, it applied ${st.applied} of ${leader.status.commit}: its log was intact up to the failed write`);
  }
}

t.test('a leader whose data dir (a small tmpfs) fills up under writes exits; writes go on at the new leader', async (t) => {
  const mounted: string[] = [];
  // Lazily (-l): also when a failed start left processes holding files there.
  const unmountAll = () => {
    for (const dir of mounted.splice(0)) execFileSync('umount', ['-l', dir]);
  };
  t.teardown(unmountAll);
  await failStopUnderWrites(
    t,
    {
      prepareDataDir: (dir) => {
        mkdirSync(dir, { recursive: true });
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'tmpfs', dir]);
        mounted.push(dir);
      },
    },
    {
      victim: 'leader',
      fail: (c, k) => t.comment(`filled the leader's tmpfs with ${fillUp(c.managers[k].dataDir)} more bytes`),
      repair: (c, k) => unlinkSync(join(c.managers[k].dataDir, 'filler')),
      exitCode: EXIT_DISK_FAILED,
      line: /FATAL: data dir \S+: writing (the log|a snapshot file) failed \(.*No space left on device/,
    },
    // Once the processes are gone, before the temp dir is removed (rm would stop at a mount point).
    unmountAll,
  );
});

/**
 * A test hook (src/manager/test-hooks.ts) armed on every manager, each with its own trigger file
 * beside its data dir: creating the victim's file makes its writes (or applies) throw from then on.
 */
function hooked(env: string, victim: Scenario['victim'], exitCode: number, line: RegExp): [ClusterOptions, Scenario] {
  const trigger = (m: ManagerProcess) => `${m.dataDir}.${env}`;
  return [{ managerEnv: (m) => ({ [env]: trigger(m) }) }, { victim, exitCode, line, fail: (c, k) => writeFileSync(trigger(c.managers[k]), '') }];
}

t.test('an injected disk error (EIO) on the leader: the same fail-stop, and its worker moves to the new leader', async (t) => {
  const [opts, scenario] = hooked(FAIL_WRITE_ENV, 'leader', EXIT_DISK_FAILED, /FATAL: data dir \S+: writing (the log|a snapshot file) failed \(EIO: i\/o error \(injected by the test hook ORCH_TEST_HOOK_FAIL_WRITE/);
  await failStopUnderWrites(t, opts, { ...scenario, worker: true });
});

t.test('a state machine that throws on the leader: the same fail-stop', async (t) => {
  await failStopUnderWrites(t, ...hooked(FAIL_APPLY_ENV, 'leader', EXIT_APPLY_FAILED, /FATAL: the state machine failed to apply entry \d+ \(term \d+\): injected by the test hook ORCH_TEST_HOOK_FAIL_APPLY/));
});

t.test('a follower whose disk fails stops too; the leader goes on', async (t) => {
  await failStopUnderWrites(t, ...hooked(FAIL_WRITE_ENV, 'follower', EXIT_DISK_FAILED, /FATAL: data dir \S+: writing the log failed \(EIO/));
});
