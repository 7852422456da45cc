// `orch events --follow` against real managers: a task's transitions arrive in order, from
// pending to running, with the service's creation, the node's registration and the leaders before
// them; a killed leader's successor shows up in the same stream; --since resumes after an event.
import t from 'tap';
import { spawn } from 'node:child_process';
import { ORCH_BIN, ProcessCluster } from '../helpers/cluster.js';
import { until } from '../helpers/docker-cluster.js';

interface Ev {
  index: number;
  k: number;
  type: string;
  action?: string;
  name?: string;
  service?: string;
  id: string | number;
  from?: string | null;
  to?: string;
  term?: number;
}

t.test('orch events --follow shows a task going from pending to running, in order, and leader changes', async (t) => {
  const c = await ProcessCluster.start({ managers: 3 });
  const client = c.client({ deadlineMs: 20_000 });
  const { index: li, status } = await c.waitForLeader();
  const follower = c.managers.findIndex((_, k) => k !== li);
  const lines: Ev[] = [];
  const follow = spawn(process.execPath, [ORCH_BIN, 'events', '--follow', '--json', '--manager', c.addresses[follower]], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  follow.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    let n;
    while ((n = out.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(out.slice(0, n)) as Ev);
      out = out.slice(n + 1);
    }
  });
  let stderr = '';
  follow.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  t.teardown(async () => {
    follow.kill();
    await client.close();
    await c.stop();
  });

  await until(async () => lines.some((e) => e.type === 'leader' && e.term === status.term), 10_000);
  c.startWorker('sim', '', 500, ['--runtime', 'sim']);
  await client.createService({ name: 'ev', image: 'anything:latest', replicas: 1 });
  const running = await until(async () => lines.find((e) => e.type === 'task' && e.service === 'ev' && e.to === 'running'), 20_000).catch((err: Error) => {
    throw new Error(`${err.message}; stderr: ${stderr}; seen: ${JSON.stringify(lines)}`);
  });
  const mine = lines.filter((e) => e.type === 'task' && e.id === running.id);
  const states = mine.map((e) => e.to);
  t.same(states.slice(0, 2), ['pending', 'assigned'], `the task's transitions: ${states.join(' -> ')}`);
  t.equal(states[states.length - 1], 'running', 'ending in running');
  t.ok(mine.every((e, k) => k === 0 || e.from === mine[k - 1].to), 'each from the state before');
  t.ok(mine.every((e, k) => k === 0 || e.index > mine[k - 1].index), 'in log order');
  const created = lines.find((e) => e.type === 'service' && e.action === 'created' && e.name === 'ev');
  const registered = lines.find((e) => e.type === 'node' && e.action === 'registered');
  t.ok(created && created.index < mine[0].index, 'the service was created before its task');
  t.ok(registered, 'the node\'s registration is an event');

  await c.kill(li);
  const next = await c.waitForLeader(15_000);
  await until(async () => lines.some((e) => e.type === 'leader' && (e.term ?? 0) > status.term), 10_000);
  t.ok(lines.some((e) => e.type === 'leader' && e.id === next.status.id), `the new leader (manager ${next.status.id}) appears in the same stream`);

  const later = await new Promise<string>((resolve) => {
    const p = spawn(process.execPath, [ORCH_BIN, 'events', '--since', `${created!.index}-${created!.k}`, '--manager', c.addresses[follower]], { stdio: ['ignore', 'pipe', 'inherit'] });
    let s = '';
    p.stdout.on('data', (d: Buffer) => (s += d.toString()));
    p.once('exit', () => resolve(s));
  });
  const first = later.split('\n')[0];
  t.notMatch(later, / ev created /, '--since starts after the event named');
  t.match(first, /^\d+-\d+ {2}\S+ {2}task {4}ev\.1 [0-9a-f]+ - -> pending/, `and the next line is the task's first event: ${first}`);
});
