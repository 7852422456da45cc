// `orch start` says whether it created, updated or left the service as it was, from its own
// write's answer: one request per start, no list of the services read before it. Given a
// follower, whose answer relays the leader's.
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ORCH_BIN, ProcessCluster } from '../helpers/cluster.js';
import { until } from '../helpers/docker-cluster.js';

function orch(cwd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.ORCH_TOKEN;
  delete env.ORCH_MANAGER;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [ORCH_BIN, ...args], { cwd, env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Manager k's count of answered API requests, by "METHOD route". */
async function served(c: ProcessCluster, k: number): Promise<Map<string, number>> {
  const { text } = await c.request(k, 'GET', '/metrics');
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^orch_api_request_duration_seconds_count\{method="(\w+)",route="([^"]+)",status="\d+"\} (\S+)$/gm)) {
    const key = `${m[1]} ${m[2]}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[3]));
  }
  return out;
}

t.test('orch start: created, unchanged, updated, each in one request', async (t) => {
  const c = await ProcessCluster.start({ managers: 3 });
  t.teardown(() => c.stop());
  const { index: li } = await c.waitForLeader(30_000);
  const fi = (li + 1) % 3;
  const follower = c.addresses[fi];
  const spec = join(c.dir, 'web.yaml');
  const write = (replicas: number) => writeFileSync(spec, `name: web\nimage: orch/busybox:latest\ncommand: [sleep, "3600"]\nreplicas: ${replicas}\n`);
  const steps: { replicas: number; stop?: boolean; says: string }[] = [
    { replicas: 2, says: 'created' },
    { replicas: 2, says: 'unchanged' },
    { replicas: 3, says: 'updated' },
    { replicas: 3, stop: true, says: 'updated' }, // a stopped service started again
  ];
  let posts = 0;
  for (const step of steps) {
    if (step.stop) {
      const s = await orch(c.dir, ['stop', 'web', '--manager', follower]);
      t.equal(s.code, 0, `orch stop: ${s.stderr.trim()}`);
    }
    write(step.replicas);
    const before = await Promise.all([served(c, fi), served(c, li)]);
    const r = await orch(c.dir, ['start', spec, '--manager', follower]);
    t.equal(r.code, 0, `orch start succeeded: ${r.stderr.trim()}`);
    t.match(r.stdout, new RegExp(`^service web ${step.says} \\(id \\S+, version \\d+, ${step.replicas} replicas\\)`), `it says ${step.says}`);
    posts++;
    // A request is counted once answered: wait for both counts, then compare everything else.
    const after = await until(async () => {
      const m = await Promise.all([served(c, fi), served(c, li)]);
      return m.every((x) => (x.get('POST /v1/services') ?? 0) >= posts) && m;
    }, 10_000);
    const delta = (k: number) => [...after[k]].filter(([key, v]) => key !== 'GET /metrics' && v !== (before[k].get(key) ?? 0)).map(([key, v]) => `${key} +${v - (before[k].get(key) ?? 0)}`);
    t.same(delta(0), ['POST /v1/services +1'], 'one request: the write itself, to the follower');
    t.same(delta(1), ['POST /v1/services +1'], 'which forwarded it to the leader');
  }
  const json = await orch(c.dir, ['start', spec, '--manager', follower, '--json']);
  t.equal((JSON.parse(json.stdout) as { name: string }).name, 'web', '--json prints the service');
});
