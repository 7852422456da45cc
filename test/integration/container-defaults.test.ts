// Safe container defaults, on a real engine through a real cluster: the container of a started task
// runs with no-new-privileges and a pids limit (1024 unless its spec says resources.pids), checked by
// inspecting it and from inside: the kernel says NoNewPrivs, and a burst of forks stops at the limit.
import t from 'tap';
import { containersOf, dockerCluster, runningTasks } from '../helpers/docker-cluster.js';
import { TEST_IMAGE } from '../helpers/docker-engine.js';

/** Runs `sh -c script` in the container; resolves with its output (stdout and stderr, demuxed). */
async function shIn(docker: Awaited<ReturnType<typeof dockerCluster>>['docker'], id: string, script: string): Promise<string> {
  const ex = await docker.getContainer(id).exec({ Cmd: ['sh', '-c', script], AttachStdout: true, AttachStderr: true });
  const stream = await ex.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`exec of ${JSON.stringify(script)} did not end within 20 s`)), 20_000);
    stream.on('data', (b: Buffer) => chunks.push(b));
    stream.once('end', () => (clearTimeout(timer), resolve()));
    stream.once('error', (e: Error) => (clearTimeout(timer), reject(e)));
  });
  // Strip the 8-byte frame headers of Docker's multiplexed stream.
  const buf = Buffer.concat(chunks);
  let out = '';
  for (let i = 0; i + 8 <= buf.length; ) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return out;
}

t.test('a started task\'s container: no-new-privileges and a pids limit, default and chosen', async (t) => {
  const dflt = `defaults-${process.pid}`;
  const small = `pids-${process.pid}`;
  const { docker, client } = await dockerCluster(t, dflt, 1);
  t.teardown(async () => {
    for (const x of await containersOf(docker, small, true)) await docker.getContainer(x.Id).remove({ force: true });
  });
  const base = { image: TEST_IMAGE, command: ['sleep', '3600'], network: 'none' };
  await client.createService({ name: dflt, ...base });
  await client.createService({ name: small, ...base, resources: { pids: 16 } });
  const [a] = await runningTasks(client, dflt, 1, 30_000);
  const [b] = await runningTasks(client, small, 1, 30_000);

  const ia = await docker.getContainer(a.containerId!).inspect();
  t.same(ia.HostConfig.SecurityOpt, ['no-new-privileges'], 'SecurityOpt no-new-privileges');
  t.equal(ia.HostConfig.PidsLimit, 1024, 'the default pids limit');
  const ib = await docker.getContainer(b.containerId!).inspect();
  t.same(ib.HostConfig.SecurityOpt, ['no-new-privileges'], 'SecurityOpt no-new-privileges with a chosen limit too');
  t.equal(ib.HostConfig.PidsLimit, 16, 'the spec\'s resources.pids');

  t.match(await shIn(docker, a.containerId!, 'grep NoNewPrivs /proc/self/status'), /NoNewPrivs:\s+1/, 'the kernel applies no_new_privs to a process in the container');
  // 40 background sleeps in a container limited to 16 pids (its init and sleep hold 2): the shell
  // cannot fork them all (busybox's sh gives up at the first failed fork). The container's processes
  // are counted from outside (docker top); the sleeps end on their own, or with the container.
  const burst = await shIn(docker, b.containerId!, 'for i in $(seq 40); do sleep 30 & done; echo all forked');
  t.match(burst, /can't fork/, `the shell was told it cannot fork: ${burst.trim().split('\n').at(-1)}`);
  t.notMatch(burst, /all forked/, 'and did not get its 40 processes');
  const top = await docker.getContainer(b.containerId!).top();
  const procs = (top.Processes ?? []).length;
  t.ok(procs > 2 && procs <= 16, `between 3 and 16 processes run in the container (${procs})`);
});
