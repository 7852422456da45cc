// A worker's reports cannot wedge its node: fields are cut to the managers' limits before they are
// queued; a report the managers refuse is dropped (the others of its batch still land) and never
// sent again, while a batch that failed on the network is sent again. An answer that ends the agent
// (removed: 403 revoked; replaced: 409 node-session-taken) stops it, and a removed node's containers go.
import t from 'tap';
import { Agent, type Fatal } from '../../src/worker/agent.js';
import type { TaskReport as Report } from '../../src/api/tasks.js';
import { ApiRequestError, type OrchClient } from '../../src/client/client.js';
import type { Runtime, RuntimeContainer } from '../../src/worker/runtime/runtime.js';
import type { UsageSampler } from '../../src/worker/resources.js';
import { batchSize, cutText, fitReport, REPORT_LIMITS } from '../../src/worker/report-limits.js';
import { HEARTBEAT_LIMITS } from '../../src/api/tasks.js';

const usage = { latest: { cpu: 0, memory: 0, load: 0 } } as UsageSampler;

/** A client whose heartbeat answers as `answer` says, recording every batch it was given. */
function fakeClient(answer: (reports: Report[]) => void) {
  const sent: Report[][] = [];
  const client = {
    async heartbeat(_id: string, body: { reports: Report[] }) {
      sent.push(body.reports);
      answer(body.reports);
      return { managers: ['127.0.0.1:1'], term: 1 };
    },
    setManagers() {},
  } as unknown as OrchClient;
  return { client, sent };
}

function agentWith(client: OrchClient, runtime: Runtime = {} as Runtime, onFatal?: (f: Fatal) => void) {
  const logs: string[] = [];
  const agent = new Agent(client, runtime, 'n1', usage, { heartbeatMs: 1000, log: (m) => logs.push(m), onFatal });
  const report = (r: Report) => (agent as unknown as { report(r: Report): void }).report(r);
  return { agent, report, logs };
}

t.test('the limits are the managers\' limits', async (t) => {
  t.ok(REPORT_LIMITS.error <= HEARTBEAT_LIMITS.error, 'an error message within the worker\'s cut is within the schema');
  t.ok(REPORT_LIMITS.reportsPerHeartbeat <= HEARTBEAT_LIMITS.reports, 'a heartbeat\'s reports are within maxItems');
});

t.test('fields are cut to their limits at the source', async (t) => {
  const huge = fitReport({ taskId: 'a', state: 'failed', error: 'x'.repeat(100_000), exitCode: Number.NaN });
  t.ok([...huge.error!].length <= HEARTBEAT_LIMITS.error, `a 100,000-character error is cut to ${huge.error!.length}`);
  t.match(huge.error!, /\[cut\]$/, 'and says it was cut');
  t.equal(huge.exitCode, null, 'a NaN exit code goes as null');
  // A surrogate pair straddling the cut is not split in two.
  const emoji = cutText('a'.repeat(4088) + '😀'.repeat(10), 4096);
  t.notOk(/[\ud800-\udbff](?![\udc00-\udfff])/.test(emoji), 'no lone high surrogate at the cut');
  t.equal(cutText('short', 4096), 'short', 'a short message is kept');
  const many = Array.from({ length: 12_000 }, (_, k): Report => ({ taskId: `t${k}`, state: 'running' }));
  t.equal(batchSize(many), REPORT_LIMITS.reportsPerHeartbeat, 'at most 5,000 reports per heartbeat');
  const big = Array.from({ length: 1000 }, (_, k): Report => fitReport({ taskId: `t${k}`, state: 'failed', error: 'e'.repeat(10_000) }));
  t.ok(batchSize(big) * (4096 * 6 + 200) <= 2 << 20, `heavy reports: ${batchSize(big)} per heartbeat keep it under the 2 MiB body limit`);
  t.equal(batchSize([]), 0);
});

t.test('a huge failure message is sent cut, not refused', async (t) => {
  const { client, sent } = fakeClient((rs) => {
    if (rs.some((r) => (r.error?.length ?? 0) > HEARTBEAT_LIMITS.error)) throw new ApiRequestError(400, 'FST_ERR_VALIDATION', 'body/reports/0/error must NOT have more than 4096 characters');
  });
  const { agent, report } = agentWith(client);
  report({ taskId: 'a', state: 'failed', error: 'y'.repeat(50_000) });
  await agent.flush();
  t.equal(sent.length, 1, 'one heartbeat');
  t.equal(sent[0][0].error!.length <= 4096, true, 'carrying the cut message');
});

t.test('a refused report is dropped, the rest of its batch lands, and it is never sent again', async (t) => {
  const { client, sent } = fakeClient((rs) => {
    if (rs.some((r) => r.taskId === 'bad')) throw new ApiRequestError(400, 'FST_ERR_VALIDATION', 'body/reports/1/containerId must match pattern');
  });
  const { agent, report, logs } = agentWith(client);
  for (const id of ['a', 'b', 'bad', 'c', 'd']) report({ taskId: id, state: 'running' });
  await agent.flush();
  const landed = sent.filter((b) => !b.some((r) => r.taskId === 'bad')).flat().map((r) => r.taskId);
  t.same(landed.sort(), ['a', 'b', 'c', 'd'], 'every other report of the batch landed');
  t.ok(sent.length <= 2 * 5, `found by halving: ${sent.length} heartbeats`);
  t.match(logs.join('\n'), /dropped the report of task bad \(running\): the managers refused it/, 'the drop is logged');
  const before = sent.length;
  report({ taskId: 'e', state: 'running' });
  await agent.flush();
  t.same(sent.slice(before), [[{ taskId: 'e', state: 'running' }]], 'the next heartbeat carries only the new report');
});

t.test('a batch that failed on the network is sent again', async (t) => {
  let down = true;
  const { client, sent } = fakeClient(() => {
    if (down) throw new Error('127.0.0.1:1: connect ECONNREFUSED');
  });
  const { agent, report } = agentWith(client);
  report({ taskId: 'a', state: 'running' });
  await agent.flush();
  down = false;
  await agent.flush();
  t.same(sent, [[{ taskId: 'a', state: 'running' }], [{ taskId: 'a', state: 'running' }]], 'the same report, once more');
});

t.test('revoked: the agent stops and removes its node\'s containers; replaced: it stops and leaves them', async (t) => {
  for (const [kind, err, removes] of [
    ['revoked', new ApiRequestError(403, 'revoked', 'node n1 was removed from the cluster'), true],
    ['replaced', new ApiRequestError(409, 'node-session-taken', 'another agent runs node n1'), false],
  ] as const) {
    const removed: string[] = [];
    const runtime = {
      async list(): Promise<RuntimeContainer[]> {
        return [{ containerId: 'c1', taskId: 't1', running: true, exitCode: null }, { containerId: 'c2', taskId: 't2', running: false, exitCode: 0 }];
      },
      async remove(id: string) {
        removed.push(id);
      },
    } as unknown as Runtime;
    const { client, sent } = fakeClient(() => {
      throw err;
    });
    const fatal = new Promise<Fatal>((resolve) => {
      const { agent, report } = agentWith(client, runtime, resolve);
      report({ taskId: 't1', state: 'running' });
      void agent.flush().then(() => agent.flush());
    });
    const f = await fatal;
    t.equal(f.kind, kind, `${kind}: onFatal says so`);
    t.same(removed.sort(), removes ? ['c1', 'c2'] : [], removes ? 'every container of the node is removed' : 'no container is touched');
    t.equal(sent.length, 1, 'nothing is sent after the answer');
  }
});
