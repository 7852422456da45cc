// GET /metrics on real managers: the metrics the operators' dashboards need are there, and they
// move: the commit index and the commit/fsync histograms grow under writes, tasks and nodes are
// counted, scheduling is timed, and a killed leader shows in leader changes.
import t from 'tap';
import { request } from 'undici';
import { ProcessCluster } from '../helpers/cluster.js';
import { until } from '../helpers/docker-cluster.js';

type Samples = Map<string, number>;

/** Prometheus text format to "name{labels}" -> value. */
function parse(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const k = line.lastIndexOf(' ');
    out.set(line.slice(0, k), Number(line.slice(k + 1)));
  }
  return out;
}

async function scrape(address: string): Promise<{ samples: Samples; text: string; type: string }> {
  const res = await request(`http://${address}/metrics`);
  const text = await res.body.text();
  return { samples: parse(text), text, type: String(res.headers['content-type']) };
}

t.test('the metrics are present and move with writes, tasks and a leader kill', async (t) => {
  const c = await ProcessCluster.start({ managers: 3 });
  const client = c.client({ deadlineMs: 20_000 });
  t.teardown(async () => {
    await client.close();
    await c.stop();
  });
  const { index: li } = await c.waitForLeader();
  const leader = c.addresses[li];
  const before = await scrape(leader);
  t.match(before.type, /text\/plain; version=0\.0\.4/, 'Prometheus text format');
  for (const name of [
    'orch_raft_term',
    'orch_raft_role{role="leader"}',
    'orch_raft_commit_index',
    'orch_raft_applied_index',
    'orch_raft_proposals_committed_total',
    'orch_raft_proposals_failed_total',
    'orch_raft_leader_changes_total',
    'orch_raft_snapshots_total',
    'orch_raft_snapshot_size_bytes',
    'orch_raft_commit_latency_seconds_count',
    'orch_raft_fsync_latency_seconds_count',
    'orch_tasks{state="running"}',
    'orch_nodes{status="ready"}',
    'orch_scheduling_latency_seconds_count',
  ]) {
    t.ok(before.samples.has(name), `${name} is exported`);
  }
  t.equal(before.samples.get('orch_raft_role{role="leader"}'), 1, 'the leader says it leads');

  for (let k = 0; k < 200; k++) await client.kvPut(`m/${k % 10}`, String(k));
  const after = await scrape(leader);
  const grew = (name: string, by = 1) => t.ok((after.samples.get(name) ?? 0) >= (before.samples.get(name) ?? 0) + by, `${name}: ${before.samples.get(name)} -> ${after.samples.get(name)}`);
  grew('orch_raft_commit_index', 200);
  grew('orch_raft_applied_index', 200);
  grew('orch_raft_proposals_committed_total', 200);
  grew('orch_raft_commit_latency_seconds_count', 200);
  grew('orch_raft_fsync_latency_seconds_count');
  t.ok([...after.samples.keys()].some((k) => k.startsWith('orch_api_request_duration_seconds_count{') && k.includes('route="/v1/kv/*"') && k.includes('status="200"')), 'API latency by route pattern and status');

  c.startWorker('sim', '', 500, ['--runtime', 'sim']);
  await client.createService({ name: 'm', image: 'anything:latest', replicas: 3 });
  const tasks = await until(async () => {
    const s = (await scrape(leader)).samples;
    return s.get('orch_tasks{state="running"}') === 3 && s.get('orch_nodes{status="ready"}') === 1 ? s : null;
  }, 20_000);
  t.equal(tasks.get('orch_tasks{state="running"}'), 3, 'tasks by state: 3 running');
  t.ok((tasks.get('orch_scheduling_latency_seconds_count') ?? 0) >= 1, 'a placement round was timed');
  t.ok((tasks.get('orch_scheduling_tasks_total') ?? 0) >= 3, 'and the tasks it placed counted');

  const survivor = c.managers.findIndex((_, k) => k !== li);
  const changesBefore = (await scrape(c.addresses[survivor])).samples.get('orch_raft_leader_changes_total') ?? 0;
  await c.kill(li);
  const next = await c.waitForLeader(15_000);
  const s = await until(async () => {
    const x = (await scrape(c.addresses[survivor])).samples;
    return (x.get('orch_raft_leader_changes_total') ?? 0) > changesBefore ? x : null;
  }, 10_000);
  t.ok((s.get('orch_raft_leader_changes_total') ?? 0) > changesBefore, `leader changes counted the kill (${changesBefore} -> ${s.get('orch_raft_leader_changes_total')})`);
  t.ok((s.get('orch_raft_term') ?? 0) > (before.samples.get('orch_raft_term') ?? 0), 'and the term moved');
  t.equal((await scrape(c.addresses[next.index])).samples.get('orch_raft_is_leader'), 1, 'the new leader says so');
});

t.test('a quiet manager trims its heap, and the trims are counted and timed', async (t) => {
  // A 1 MiB floor: any heap is over it, so a trim follows as soon as the log is quiet.
  const c = await ProcessCluster.start({ managers: 1, extraArgs: ['--heap-trim-mib', '1'] });
  t.teardown(() => c.stop());
  await c.waitForLeader();
  const s = await until(async () => {
    const x = (await scrape(c.addresses[0])).samples;
    return (x.get('orch_heap_trims_total') ?? 0) >= 1 ? x : null;
  }, 20_000);
  t.ok(s.get('orch_heap_trims_total')! >= 1, `trims: ${s.get('orch_heap_trims_total')}`);
  t.equal(s.get('orch_heap_trim_pause_seconds_count'), s.get('orch_heap_trims_total'), 'each one timed');
  t.ok(s.get('orch_heap_trim_pause_seconds_sum')! > 0, `paused ${s.get('orch_heap_trim_pause_seconds_sum')} s in all`);
  t.ok(s.get('orch_heap_trim_freed_bytes_total')! > 0, `${s.get('orch_heap_trim_freed_bytes_total')} bytes found to be garbage`);
});
