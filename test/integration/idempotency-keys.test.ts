// Idempotency keys against real managers over TLS: oversized keys are refused before they reach
// the log, a flood of fresh longest keys leaves what the leader remembers (and its memory) bounded
// while snapshots are still taken and restored, and a client's key can never stand in for a
// manager's own command id (a leader's announcement of its term), while a retry through another
// manager is still known as the same caller's.
import t from 'tap';
import { MAX_REMEMBERED, MAX_REMEMBERED_BYTES } from '../../src/manager/state/machine.js';
import { ProcessCluster } from '../helpers/cluster.js';
import { until } from '../helpers/docker-cluster.js';

/**
 * Writes with fresh longest keys that fail (a compare-and-set on an absent key, with the longest
 * key/value key): each failure is remembered whole, about 570 counted bytes with its id, so 30,000
 * of them are more than the byte bound holds (about 22,000) and fewer than the count bound.
 */
const FLOOD = Number(process.env.ORCH_IDEMPOTENCY_FLOOD ?? 30_000);
/**
 * How much the leader's RSS may grow during the flood. The remembered keys count at most 12 MiB
 * (their JSON); in the heap they take perhaps three times that (strings, map entries, result
 * objects), and each snapshot briefly holds the state's JSON text and its buffer besides. Without
 * the byte bound the growth is only some 10 MiB more, so the metric is the sharp check; this one
 * catches what the metric does not count (results kept whole by mistake, a leak per key).
 */
const RSS_GROWTH_MIB = 100;

/** `n` writes, 64 at a time, with the key of `keyOf(k)`; returns how many were answered as `expect` (200 or 409). */
async function flood(c: ProcessCluster, n: number, keyOf: (k: number) => string, expect: 200 | 409): Promise<number> {
  const client = c.client({ deadlineMs: 30_000 });
  let next = 0;
  let answered = 0;
  try {
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < n) {
          const k = next++;
          if (expect === 200) {
            await client.kvPut(`flood/${k % 500}`, 'v', { idempotencyKey: keyOf(k) });
            answered++;
            continue;
          }
          // The longest key/value key (256 characters), absent: cas=1 fails with 409.
          const key = `flood/${k % 500}/`.padEnd(256, 'f');
          await client.kvPut(key, 'v', { idempotencyKey: keyOf(k), cas: 1 }).then(
            () => undefined,
            (err: { status?: number }) => {
              if (err.status !== 409) throw err;
              answered++;
            },
          );
        }
      }),
    );
  } finally {
    await client.close();
  }
  return answered;
}

t.test('keys: 16 KB ones are refused; a flood of fresh 128-character ones stays bounded and snapshots still restore', async (t) => {
  const c = await ProcessCluster.start({ managers: 3, secure: true, snapshotEvery: 2_000, keepEntries: 500 });
  t.teardown(() => c.stop());
  const { index: leader, status } = await c.waitForLeader(30_000);

  // 16 KB keys (just under Node's 16 KiB limit for all headers): 400, naming the header, and nothing proposed.
  const big: { status: number; text: string }[] = [];
  for (let b = 0; b < 10; b++) {
    // 20 at a time: a flood, without 200 TLS handshakes at once timing out on a busy machine.
    const batch = Array.from({ length: 20 }, (_, j) => b * 20 + j);
    big.push(...(await Promise.all(batch.map((k) => c.request(leader, 'PUT', `/v1/kv/big${k}`, { body: { value: 'x' }, headers: { 'idempotency-key': `${k}-`.padEnd(16_000, 'b') } })))));
  }
  t.same([...new Set(big.map((r) => r.status))], [400], '200 writes with 16 KB keys: all 400');
  t.match(JSON.parse(big[0].text).error.message, /Idempotency-Key header must be 1 to 128 characters/, 'naming the header and its limit');
  const after = await c.status(leader);
  t.ok(after && after.commit - status.commit < 20, `the log barely moved (${status.commit} -> ${after?.commit}): nothing of them was proposed`);
  const viaFollower = await c.request((leader + 1) % 3, 'PUT', '/v1/kv/big', { body: { value: 'x' }, headers: { 'idempotency-key': 'x'.repeat(129) } });
  t.equal(viaFollower.status, 400, 'a follower refuses one too, before forwarding');

  const rss0 = c.rssKiB(leader) / 1024;
  const started = Date.now();
  const refused = await flood(c, FLOOD, (k) => `${k}-`.padEnd(128, 'k'), 409);
  t.equal(refused, FLOOD, `${FLOOD} failing writes with fresh 128-character keys answered (409) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const bytes = await c.metric(leader, 'orch_idempotency_remembered_bytes');
  const keys = await c.metric(leader, 'orch_idempotency_remembered_keys');
  t.ok(bytes <= MAX_REMEMBERED_BYTES, `the leader remembers ${bytes} bytes of keys (bound ${MAX_REMEMBERED_BYTES})`);
  t.ok(keys < Math.min(FLOOD, MAX_REMEMBERED), `${keys} keys: the oldest were forgotten by bytes`);
  const rss = c.rssKiB(leader) / 1024;
  t.ok(rss - rss0 < RSS_GROWTH_MIB, `leader RSS ${rss.toFixed(0)} MiB after the flood, ${rss0.toFixed(0)} MiB before (bound: ${RSS_GROWTH_MIB} MiB more)`);
  const snaps = await c.metric(leader, 'orch_raft_snapshots_total');
  t.ok(snaps >= Math.floor(FLOOD / 2_000) - 1, `${snaps} snapshots taken during the flood`);

  // A follower restarted behind the leader's compacted log gets the snapshot and rebuilds the same
  // remembered keys from it.
  const follower = (leader + 1) % 3;
  const killedAt = (await c.status(follower))!.commit;
  await c.kill(follower);
  // Two snapshots later, keeping 500 entries, the leader's log starts past anything the follower has.
  t.equal(await flood(c, 5_000, (k) => `late-${k}-`.padEnd(128, 'k'), 200), 5_000, '5,000 more writes while it is down');
  const { status: st } = await c.waitForLeader(30_000, [0, 1, 2].filter((k) => k !== follower));
  c.spawn(follower);
  await c.waitForApplied(follower, st.commit, 60_000);
  const same = await until(async () => {
    const [a, b] = await Promise.all([c.status(leader), c.status(follower)]);
    if (!a || !b || a.applied !== b.applied) return false;
    const [x, y] = await Promise.all([c.metric(leader, 'orch_idempotency_remembered_bytes'), c.metric(follower, 'orch_idempotency_remembered_bytes')]);
    return x === y ? { x, applied: a.applied } : false;
  }, 30_000);
  t.ok(same.x > 0 && same.x <= MAX_REMEMBERED_BYTES, `the restarted follower remembers the same ${same.x} bytes at index ${same.applied}`);
  const { firstIndex } = JSON.parse((await c.request(follower, 'GET', '/raft/status')).text) as { firstIndex: number };
  t.ok(firstIndex > killedAt + 1, `its log starts at ${firstIndex}, past the ${killedAt} it had: it was restored from the leader's snapshot`);
});

t.test('a client key equal to the next leader\'s announcement id does not stop the announcement', async (t) => {
  const c = await ProcessCluster.start({ managers: 3, secure: true });
  t.teardown(() => c.stop());
  const { index: leader, status } = await c.waitForLeader(30_000);
  const client = c.client();
  t.teardown(() => client.close());
  // Every id the next few leaders could announce themselves with (leader.<term>.<manager id>).
  for (let term = status.term + 1; term <= status.term + 6; term++) {
    for (let id = 1; id <= 3; id++) await client.kvPut(`claim/${term}/${id}`, 'x', { idempotencyKey: `leader.${term}.${id}` });
  }
  // The namespace is the caller's, not the manager's it came through: a retry through another
  // manager (each forwarding to the leader) is still the same request.
  const [a, b] = [0, 1, 2].filter((k) => k !== leader);
  const put = (k: number) => c.request(k, 'PUT', '/v1/kv/retried', { body: { value: 'once' }, headers: { 'idempotency-key': 'retry-1' } });
  const first = await put(a);
  const retry = await put(b);
  t.same([first.status, retry.status], [200, 200]);
  t.equal(JSON.parse(retry.text).version, JSON.parse(first.text).version, 'a retry through another follower answers the first write, not a second one');

  await c.kill(leader);
  const { status: next } = await c.waitForLeader(30_000, [0, 1, 2].filter((k) => k !== leader));
  t.ok(next.term <= status.term + 6, `the new leader's term ${next.term} was pre-claimed`);
  const follower = [0, 1, 2].find((k) => k !== leader && c.addresses[k] !== next.address)!;
  const event = await until(async () => {
    const { text } = await c.request(follower, 'GET', '/v1/events');
    const leaders = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { type: string; term?: number; id?: number });
    return leaders.find((e) => e.type === 'leader' && e.term === next.term);
  }, 15_000);
  t.equal(event.id, next.id, `the event stream shows manager ${next.id} leading term ${next.term}`);
});
