// A client that reaches the cluster through a follower follows the leader hint of the follower's
// answer: after the first forwarded write it writes to the leader directly. Only to a manager it
// knows: given the follower alone, it keeps writing through the follower. A real TLS cluster of 3;
// the requests each manager served are counted by its own /metrics.
import t from 'tap';
import { request } from 'undici';
import { ProcessCluster } from '../helpers/cluster.js';
import { clientOf, connection } from '../../src/cli/client.js';

const KV_PUT = 'orch_api_request_duration_seconds_count{method="PUT",route="/v1/kv/*",status="200"}';

/** How many kv writes manager k has answered with 200 (forwarded ones included). */
async function kvPuts(c: ProcessCluster, k: number): Promise<number> {
  const { status, text } = await c.request(k, 'GET', '/metrics');
  if (status !== 200) throw new Error(`GET /metrics on manager ${k}: ${status} ${text.slice(0, 200)}`);
  const line = text.split('\n').find((l) => l.startsWith(KV_PUT + ' '));
  return line ? Number(line.slice(KV_PUT.length + 1)) : 0;
}

t.test('writes through a follower go to the leader once it is named, and only to a known manager', async (t) => {
  const c = await ProcessCluster.start({ managers: 3, secure: true });
  t.teardown(() => c.stop());
  const { index: li } = await c.waitForLeader(30_000);
  const fi = (li + 1) % 3;
  const follower = c.addresses[fi];
  const writes = 10;

  // Given only the follower, the client cannot follow a hint to an address it was not given.
  const alone = c.client({ managers: [follower], deadlineMs: 20_000 });
  t.teardown(() => alone.close());
  let f0 = await kvPuts(c, fi);
  let l0 = await kvPuts(c, li);
  for (let k = 0; k < writes; k++) await alone.kvPut(`alone/${k}`, String(k));
  t.equal((await kvPuts(c, fi)) - f0, writes, 'given the follower alone: every write goes through the follower');
  t.equal((await kvPuts(c, li)) - l0, writes, 'and is forwarded to the leader');

  // The cluster gives it the managers (as it gives a worker): the first write is forwarded, and
  // its answer names the leader, where the others go directly.
  const managers = (await alone.cluster()).managers.map((m) => m.address);
  t.same([...managers].sort(), [...c.addresses].sort(), 'the cluster names its three managers');
  alone.setManagers([follower, ...managers.filter((a) => a !== follower)]);
  f0 = await kvPuts(c, fi);
  l0 = await kvPuts(c, li);
  for (let k = 0; k < writes; k++) await alone.kvPut(`given/${k}`, String(k));
  t.equal((await kvPuts(c, fi)) - f0, 1, 'with the managers known: only the first write went through the follower');
  t.equal((await kvPuts(c, li)) - l0, writes, 'the leader served all of them');

  // A client given every manager, the follower first: the same.
  const all = c.client({ managers: [follower, ...c.addresses.filter((a) => a !== follower)], deadlineMs: 20_000 });
  t.teardown(() => all.close());
  f0 = await kvPuts(c, fi);
  l0 = await kvPuts(c, li);
  for (let k = 0; k < writes; k++) await all.kvPut(`all/${k}`, String(k));
  t.equal((await kvPuts(c, fi)) - f0, 1, 'a client given every manager: one write through the follower');
  t.equal((await kvPuts(c, li)) - l0, writes, 'then straight to the leader');

  // The CLI's client, given the follower alone: its TLS completes only with a manager of this
  // cluster (pinned CA, manager certificate), so it may follow a hint to a manager it was not given.
  const cli = clientOf(await connection({ manager: follower, token: c.tokens().admin }), { deadlineMs: 20_000 });
  t.teardown(() => cli.close());
  f0 = await kvPuts(c, fi);
  l0 = await kvPuts(c, li);
  for (let k = 0; k < writes; k++) await cli.kvPut(`cli/${k}`, String(k));
  t.equal((await kvPuts(c, fi)) - f0, 1, "the CLI's client given the follower alone: one write through the follower");
  t.equal((await kvPuts(c, li)) - l0, writes, 'then straight to the leader its TLS proved a manager');
});

t.test('the hint on the answers themselves: relayed, and on a 503 leader-changed', async (t) => {
  const c = await ProcessCluster.start({ managers: 3 });
  t.teardown(() => c.stop());
  const { index: li } = await c.waitForLeader(30_000);
  const follower = c.addresses[(li + 1) % 3];
  const put = (headers: Record<string, string>) =>
    request(`http://${follower}/v1/kv/hint`, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ value: 'v' }) });
  const relayed = await put({});
  await relayed.body.dump();
  t.equal(relayed.statusCode, 200, 'the follower relayed the write');
  t.equal(relayed.headers['x-orch-leader'], c.addresses[li], 'naming the leader');
  // A request forwarded to a manager that does not lead (as after a leader change): it says which does.
  const bounced = await put({ 'x-orch-forwarded': '9' });
  t.equal(bounced.statusCode, 503, `a forwarded request to a follower: ${await bounced.body.text()}`);
  t.equal(bounced.headers['x-orch-leader'], c.addresses[li], 'its 503 names the leader it knows');
  const direct = await request(`http://${c.addresses[li]}/v1/kv/hint`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: 'v' }) });
  await direct.body.dump();
  t.equal(direct.headers['x-orch-leader'], undefined, 'the leader names nobody');
});
