// A follower paused (SIGSTOP) for 20 s under write load catches up after SIGCONT, and the leader's
// memory stays bounded meanwhile (compaction continues; per-peer queues are bounded).
import t from 'tap';
import { ProcessCluster } from '../helpers/cluster.js';
import { sleep, startWriters } from '../helpers/writers.js';

t.test('a follower paused for 20 s under write load catches up; the leader stays bounded', async (t) => {
  const c = await ProcessCluster.start({ managers: 3, snapshotEvery: 2000, keepEntries: 500 });
  t.teardown(() => c.stop());
  const first = await c.waitForLeader();
  const client = c.client({ deadlineMs: 10_000 });
  t.teardown(() => client.close());
  const victim = (first.index + 1) % 3;
  const value = 'x'.repeat(256);
  const w = startWriters(client, { concurrency: 16, maxWrites: 1_000_000, maxMs: 60_000, key: (w, n) => `k${(w * 7919 + n) % 1000}`, value: () => value });
  await sleep(3000); // warm up before measuring memory
  const ackedBefore = w.log.ackTimes.length;
  c.signal(victim, 'SIGSTOP');
  const pausedAt = Date.now();
  // What could grow without bound while a follower is away: the leader's in-memory log, its queue
  // of messages for that follower, and its heap. Sample all three every second.
  let maxLog = 0;
  let maxQueue = 0;
  let maxHeap = 0;
  const samples: string[] = [];
  while (Date.now() - pausedAt < 20_000) {
    await sleep(1000);
    const s = (await (await fetch(`http://${c.managers[first.index].address}/raft/status`)).json()) as {
      firstIndex: number;
      lastIndex: number;
      transport: { queued: Record<string, number> };
      memory: { heapUsed: number; external: number };
    };
    const logLen = s.lastIndex - s.firstIndex + 1;
    const queued = Math.max(...Object.values(s.transport.queued));
    const heap = (s.memory.heapUsed + s.memory.external) / 2 ** 20;
    maxLog = Math.max(maxLog, logLen);
    maxQueue = Math.max(maxQueue, queued);
    maxHeap = Math.max(maxHeap, heap);
    samples.push(`${logLen}/${queued}/${heap.toFixed(0)}`);
  }
  t.comment(`leader log entries / queued messages / heap MiB, each second: ${samples.join(' ')}`);
  const ackedDuring = w.log.ackTimes.length - ackedBefore;
  c.signal(victim, 'SIGCONT');
  await sleep(2000);
  const log = await w.stop();
  t.ok(ackedDuring > 1000, `${ackedDuring} writes acknowledged while the follower was paused`);
  t.ok(maxLog <= 2000 + 500 + 4000, `the leader's in-memory log stayed at most ${maxLog} entries (snapshot every 2000, keep 500)`);
  t.ok(maxQueue <= 10_000, `its queue for the paused follower stayed at most ${maxQueue} messages (bound 10,000)`);
  t.ok(maxHeap < 256, `its heap peaked at ${maxHeap.toFixed(0)} MiB (a coarse bound of 256 MiB; it is garbage-collected, not a queue)`);
  const { status } = await c.waitForLeader();
  const st = await c.waitForApplied(victim, status.commit, 30_000);
  t.ok(st.applied >= status.commit, `the paused follower caught up to ${st.applied}`);
  const res = await fetch(`http://${c.managers[victim].address}/v1/kv?stale=true`);
  const local = new Map(((await res.json()) as { key: string; value: string }[]).map((i) => [i.key, i.value]));
  let missing = 0;
  for (const [k, v] of log.acked) if (local.get(k) !== v) missing++;
  t.equal(missing, 0, 'and holds every acknowledged write');
});
