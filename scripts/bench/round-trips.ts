// The requests behind two common writes, counted by the managers themselves (/metrics) and timed:
// `orch start` of a spec (a new CLI process each time, given a follower first), and a client
// writing keys with a follower first in its list (the first manager it asks).
//   npx tsc -p . && node build/scripts/bench/round-trips.js [-- --starts 10 --writes 500]
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessCluster, ORCH_BIN } from '../../test/helpers/cluster.js';
import { positiveIntArg, launcherArg } from './lib/args.js';

const starts = positiveIntArg('starts', 10);
const writes = positiveIntArg('writes', 500);
const c = await ProcessCluster.start({ managers: 3, instrument: false, launcher: launcherArg() });

/** Every API request manager k answered, by "METHOD route" (not /metrics itself). */
async function served(k: number): Promise<Map<string, number>> {
  const { text } = await c.request(k, 'GET', '/metrics');
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^orch_api_request_duration_seconds_count\{method="(\w+)",route="([^"]+)",status="\d+"\} (\S+)$/gm)) {
    if (m[2] === '/metrics') continue;
    const key = `${m[1]} ${m[2]}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[3]));
  }
  return out;
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** The requests each manager answered while f ran, once the last one counted its `settle` requests. */
async function counted(f: () => Promise<void>, settle: { k: number; key: string; n: number }): Promise<number[]> {
  const before = await Promise.all([0, 1, 2].map(served));
  await f();
  const end = Date.now() + 10_000;
  while (((await served(settle.k)).get(settle.key) ?? 0) - (before[settle.k].get(settle.key) ?? 0) < settle.n) {
    if (Date.now() > end) throw new Error(`manager ${settle.k} did not count ${settle.n} × ${settle.key} within 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const after = await Promise.all([0, 1, 2].map(served));
  return after.map((m, k) => total(m) - total(before[k]));
}

function orch(args: string[], managers: string): Promise<number> {
  const t0 = performance.now();
  const env: NodeJS.ProcessEnv = { ...process.env, ORCH_MANAGER: managers };
  delete env.ORCH_TOKEN;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [ORCH_BIN, ...args], { env, cwd: c.dir, timeout: 60_000 }, (err, _stdout, stderr) => (err ? reject(new Error(`orch ${args.join(' ')}: ${stderr || err.message}`)) : resolve(performance.now() - t0))),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const { index: li } = await c.waitForLeader(30_000);
  const fi = (li + 1) % 3;
  const followerFirst = [c.addresses[fi], ...c.addresses.filter((_, k) => k !== fi)];
  const spec = join(c.dir, 'web.yaml');

  // orch start: alternately 1 and 2 replicas, so that every start updates the service.
  const ms: number[] = [];
  const perManager = await counted(
    async () => {
      for (let k = 0; k < starts; k++) {
        writeFileSync(spec, `name: web\nimage: orch/busybox:latest\ncommand: [sleep, "3600"]\nreplicas: ${1 + (k % 2)}\n`);
        ms.push(await orch(['start', spec], followerFirst.join(',')));
      }
    },
    { k: li, key: 'POST /v1/services', n: starts },
  );
  const startRequests = perManager.reduce((a, b) => a + b, 0) / starts;
  console.log(`orch start (${starts}×, follower first): ${startRequests.toFixed(2)} requests answered per start (leader ${(perManager[li] / starts).toFixed(2)}, follower ${(perManager[fi] / starts).toFixed(2)}), median ${median(ms).toFixed(0)} ms per command`);

  // A client writing keys, one at a time, the follower first in its list.
  const client = c.client({ managers: followerFirst, deadlineMs: 30_000 });
  let writeMs = 0;
  const perManagerKv = await counted(
    async () => {
      const t0 = performance.now();
      for (let k = 0; k < writes; k++) await client.kvPut(`bench/${k % 50}`, String(k));
      writeMs = performance.now() - t0;
    },
    { k: li, key: 'PUT /v1/kv/*', n: writes },
  );
  await client.close();
  console.log(`kv writes (${writes}, one at a time, follower first): follower answered ${perManagerKv[fi]}, leader ${perManagerKv[li]}; ${(writeMs / writes).toFixed(2)} ms per write, ${((writes * 1000) / writeMs).toFixed(0)} writes/s`);
  process.stdout.write(JSON.stringify({ bench: 'round-trips', starts, writes, startRequests, startMedianMs: median(ms), kvFollower: perManagerKv[fi], kvLeader: perManagerKv[li], msPerWrite: writeMs / writes }) + '\n');
} finally {
  await c.stop();
}
