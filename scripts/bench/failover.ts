// Failover: kill -9 of the leader under write load, 10 times; for each, the time from the kill to
// the first acknowledged write issued after it. orch and a 3-member etcd, with the same heartbeat
// and election timeouts, in the same run.
//   npm run bench:failover [-- --rounds 10 --election-ms 1000 --heartbeat-ms 100 --no-etcd]
import { Pool } from 'undici';
import { ProcessCluster } from '../../test/helpers/cluster.js';
import { EtcdCluster, etcdAvailable } from './lib/etcd.js';
import { percentile } from './lib/load.js';
import { positiveIntArg, launcherArg } from './lib/args.js';


const rounds = positiveIntArg('rounds', 10);
const electionMs = positiveIntArg('election-ms', 1000);
const heartbeatMs = positiveIntArg('heartbeat-ms', 100);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Target {
  /** Origins of the members other than `except`. */
  survivors(except: number): string[];
  leader(): Promise<number>;
  kill(k: number): Promise<void>;
  restart(k: number): Promise<void>;
  put(pool: Pool, n: number): { method: 'PUT' | 'POST'; path: string; body: string };
}

/**
 * 8 writers send to the survivors round-robin, each put with a 100 ms timeout, retried at once.
 * Returns ms from the kill to the first success of a put issued after the kill.
 */
async function round(t: Target): Promise<number> {
  const leader = await t.leader();
  const origins = t.survivors(leader);
  const pools = origins.map((o) => new Pool(o, { connections: 8 }));
  let killedAt = Infinity;
  let firstAfter = Infinity;
  let stop = false;
  let n = 0;
  const writers = Array.from({ length: 8 }, async (_, w) => {
    while (!stop) {
      const pool = pools[(w + n) % pools.length];
      const r = t.put(pool, n++);
      const issued = performance.now();
      try {
        const res = await pool.request({ ...r, headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(100) });
        await res.body.dump();
        if (res.statusCode < 300 && issued >= killedAt) firstAfter = Math.min(firstAfter, performance.now());
      } catch {
        await sleep(1);
      }
    }
  });
  await sleep(1000); // steady writes first
  killedAt = performance.now();
  await t.kill(leader);
  const deadline = killedAt + 30_000;
  while (firstAfter === Infinity && performance.now() < deadline) await sleep(5);
  stop = true;
  await Promise.all(writers);
  await Promise.all(pools.map((p) => p.destroy()));
  await t.restart(leader);
  return firstAfter - killedAt;
}

async function orchTarget(): Promise<{ t: Target; stop: () => Promise<void> }> {
  const c = await ProcessCluster.start({ managers: 3, electionMs, heartbeatMs, launcher: launcherArg() });
  await c.waitForLeader(15_000);
  const body = JSON.stringify({ value: 'x'.repeat(64) });
  return {
    stop: () => c.stop(),
    t: {
      survivors: (except) => c.managers.filter((_, k) => k !== except).map((m) => `http://${m.address}`),
      leader: async () => (await c.waitForLeader(15_000)).index,
      kill: async (k) => void (await c.kill(k, 'SIGKILL')),
      restart: async (k) => {
        c.spawn(k);
        const { status } = await c.waitForLeader(15_000);
        await c.waitForApplied(k, status.commit);
      },
      put: (_p, n) => ({ method: 'PUT', path: `/v1/kv/f${n % 100}`, body }),
    },
  };
}

async function etcdTarget(): Promise<{ t: Target; stop: () => Promise<void> }> {
  const e = await EtcdCluster.start({ electionMs, heartbeatMs });
  const v = Buffer.from('x'.repeat(64)).toString('base64');
  return {
    stop: () => e.stop(),
    t: {
      survivors: (except) => e.members.filter((_, k) => k !== except).map((m) => m.client),
      leader: () => e.leaderIndex(),
      kill: (k) => e.kill(k),
      restart: async (k) => {
        e.spawn(k, 'existing');
        for (let i = 0; i < 400; i++) {
          if (await e.status(k)) return;
          await sleep(25);
        }
        throw new Error('etcd member did not come back');
      },
      put: (_p, n) => ({ method: 'POST', path: '/v3/kv/put', body: JSON.stringify({ key: Buffer.from(`f${n % 100}`).toString('base64'), value: v }) }),
    },
  };
}

async function measure(name: string, make: () => Promise<{ t: Target; stop: () => Promise<void> }>): Promise<number[]> {
  const { t, stop } = await make();
  const out: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const ms = await round(t);
      out.push(ms);
      console.log(`  ${name} round ${r + 1}: kill -> first acknowledged write ${ms.toFixed(0)} ms`);
    }
  } finally {
    await stop();
  }
  return out;
}

function summary(xs: number[]): { p50: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: percentile(s, 50), max: s[s.length - 1] };
}

const withEtcd = !process.argv.includes('--no-etcd') && (await etcdAvailable());
console.log(`failover: ${rounds} kill -9 of the leader under writes; heartbeat ${heartbeatMs} ms, election timeout ${electionMs} ms`);
const orch = summary(await measure('orch', orchTarget));
console.log(`  orch: p50 ${orch.p50.toFixed(0)} ms, max ${orch.max.toFixed(0)} ms`);
let etcd: { p50: number; max: number } | undefined;
if (withEtcd) {
  etcd = summary(await measure('etcd', etcdTarget));
  console.log(`  etcd: p50 ${etcd.p50.toFixed(0)} ms, max ${etcd.max.toFixed(0)} ms`);
  console.log(`  ratio orch/etcd: p50 ${(orch.p50 / etcd.p50).toFixed(2)}x, max ${(orch.max / etcd.max).toFixed(2)}x`);
} else console.log('  (etcd not installed: install Debian\'s etcd-server to compare)');
process.stdout.write(JSON.stringify({ bench: 'failover', launcher: launcherArg(), rounds, electionMs, heartbeatMs, orch, etcd }) + '\n');
