// A worker's liveness does not wait on the log: while a heartbeat carrying reports waits for them to
// commit, the next heartbeats go without reports, and no report is lost or sent twice.
import t from 'tap';
import { Agent } from '../../src/worker/agent.js';
import type { TaskReport as Report } from '../../src/api/tasks.js';
import type { OrchClient } from '../../src/client/client.js';
import type { Runtime } from '../../src/worker/runtime/runtime.js';
import type { UsageSampler } from '../../src/worker/resources.js';

t.test('heartbeats keep going while reports wait for their commit', async (t) => {
  const sent: Report[][] = [];
  let release: (() => void) | null = null;
  const client = {
    async heartbeat(_id: string, body: { reports: Report[] }) {
      sent.push(body.reports);
      // The first heartbeat with reports hangs, as a slow commit does.
      if (body.reports.length > 0 && sent.length === 1) await new Promise<void>((r) => (release = r));
      return { managers: ['127.0.0.1:1'], term: 1 };
    },
    setManagers() {},
  } as unknown as OrchClient;
  const usage = { latest: { cpu: 0, memory: 0, load: 0 } } as UsageSampler;
  const agent = new Agent(client, {} as Runtime, 'n1', usage, { heartbeatMs: 1000, log: () => undefined });
  const report = (r: Report) => (agent as unknown as { report(r: Report): void }).report(r);

  report({ taskId: 'a', state: 'running' });
  const first = agent.heartbeat();
  t.same(sent, [[{ taskId: 'a', state: 'running' }]], 'the reports went');
  report({ taskId: 'b', state: 'running' });
  await agent.heartbeat();
  await agent.heartbeat();
  t.same(sent.slice(1), [[], []], 'two heartbeats without reports while the first waits');
  await agent.flush();
  t.equal(sent.length, 3, 'a flush of reports (after a reconcile, at stop) does not send one: the reports go after the pending one');
  release!();
  await first;
  await agent.heartbeat();
  t.same(sent[3], [{ taskId: 'b', state: 'running' }], 'the report gathered meanwhile goes with the next one');
  t.equal(sent.flat().filter((r) => r.taskId === 'a').length, 1, 'and the first report was sent once');
});
