// Replicated writes: 3 orch managers vs a 3-member etcd, both on loopback in the same run, 256-byte
// values, 16 and 64 concurrent clients for 10 s each, writing to the leader.
//   npm run bench:raft-throughput [-- --seconds 10 --warmup 2 --clients 16,64 --no-etcd]
// Each system gets the same unmeasured warm-up first (Node's JIT needs it; etcd gets it too).
import { closedLoop, type LoadResult } from './lib/load.js';
import { launcherArg } from './lib/args.js';
import { ProcessCluster } from '../../test/helpers/cluster.js';
import { EtcdCluster, etcdAvailable } from './lib/etcd.js';

function arg(name: string): string | undefined {
  const k = process.argv.indexOf(`--${name}`);
  return k >= 0 ? process.argv[k + 1] : undefined;
}

const seconds = Number(arg('seconds') ?? 10);
const clients = (arg('clients') ?? '16,64').split(',').map(Number);
if (!Number.isFinite(seconds) || seconds <= 0 || clients.some((c) => !Number.isSafeInteger(c) || c < 1)) {
  console.error('--seconds: a positive number; --clients: comma-separated positive integers');
  process.exit(2);
}
const warmup = Number(arg('warmup') ?? 2);
const value = 'v'.repeat(256);
const keys = 1000;

function fmt(r: LoadResult): string {
  return `${Math.round(r.perSecond).toString().padStart(6)} writes/s  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  (${r.ops} ok, ${r.errors} errors)`;
}

async function benchOrch(c: number): Promise<LoadResult> {
  const cluster = await ProcessCluster.start({ managers: 3, launcher: launcherArg() });
  try {
    const { index } = await cluster.waitForLeader(15_000);
    const leader = cluster.managers[index].address;
    const body = JSON.stringify({ value });
    const req = (w: number, n: number) => ({ method: 'PUT' as const, path: `/v1/kv/k${(w * 7919 + n) % keys}`, body });
    await closedLoop(`http://${leader}`, c, warmup, req); // JIT warm-up, not measured
    return await closedLoop(`http://${leader}`, c, seconds, req);
  } finally {
    await cluster.stop();
  }
}

async function benchEtcd(c: number): Promise<LoadResult> {
  const etcd = await EtcdCluster.start();
  try {
    const leader = await etcd.leaderClientUrl();
    const v64 = Buffer.from(value).toString('base64');
    const req = (w: number, n: number) => ({
      method: 'POST' as const,
      path: '/v3/kv/put',
      body: JSON.stringify({ key: Buffer.from(`k${(w * 7919 + n) % keys}`).toString('base64'), value: v64 }),
    });
    await closedLoop(leader, c, warmup, req); // the same warm-up as orch gets
    return await closedLoop(leader, c, seconds, req);
  } finally {
    await etcd.stop();
  }
}

const noEtcd = process.argv.includes('--no-etcd');
const withEtcd = !noEtcd && (await etcdAvailable());
const why = noEtcd ? ' (--no-etcd: orch only)' : withEtcd ? '' : " (etcd not installed: orch only; install Debian's etcd-server to compare)";
console.log(`raft-throughput: 3 replicas on loopback, 256-byte values, ${seconds} s per run${why}`);
const rows: { c: number; orch: LoadResult; etcd?: LoadResult }[] = [];
for (const c of clients) {
  const orch = await benchOrch(c);
  console.log(`  orch  c=${String(c).padStart(3)}: ${fmt(orch)}`);
  let etcd: LoadResult | undefined;
  if (withEtcd) {
    etcd = await benchEtcd(c);
    console.log(`  etcd  c=${String(c).padStart(3)}: ${fmt(etcd)}`);
    console.log(`  ratio c=${String(c).padStart(3)}: orch/etcd writes/s ${(orch.perSecond / etcd.perSecond).toFixed(2)}x, p99 ${(orch.p99 / etcd.p99).toFixed(2)}x`);
  }
  rows.push({ c, orch, etcd });
}
process.stdout.write(JSON.stringify({ bench: 'raft-throughput', launcher: launcherArg(), seconds, rows }) + '\n');
