// orch against Docker swarm mode on the same Docker engine, in the same run:
//  - time from "create a service of N replicas" to N running, N = 20, then scaled to 50, on one worker
//    (swarm: `docker swarm init --advertise-addr 127.0.0.1`, `docker service create --replicas N
//    --no-resolve-image`, `docker service scale`);
//  - start latency: `orch run ... --wait` of one task against `docker run -d` of the same container
//    (both as a person types them: a CLI process each), the median of 5.
//   npm run bench:swarm [-- --replicas 20,50 --starts 5 --no-swarm]
// The engine is scripts/docker-engine.sh's unless DOCKER_HOST is set. Swarm mode is left at the end.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import Docker from 'dockerode';
import { ProcessCluster, ORCH_BIN } from '../../test/helpers/cluster.js';
import { dockerEngine } from '../../test/helpers/docker-engine.js';
import { positiveIntArg, launcherArg } from './lib/args.js';
import { percentile } from './lib/load.js';

const IMAGE = 'orch/busybox:latest';
const sizes = (process.argv.includes('--replicas') ? process.argv[process.argv.indexOf('--replicas') + 1] : '20,50').split(',').map(Number);
const starts = positiveIntArg('starts', 5);
const withSwarm = !process.argv.includes('--no-swarm');
const engine = await dockerEngine();
const env = { ...process.env, DOCKER_HOST: engine.host };

function sh(cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { env: { ...env, ...extraEnv }, timeout: 300_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout.trim()))),
  );
}

async function until(ms: number, f: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('timed out');
}

/**
 * Containers (any state) of this run's worker and services only: an engine may hold others'
 * containers, even of an earlier run of this bench under the same service names.
 */
async function ourContainers(nodeId: string, services: string[]): Promise<number> {
  const labels = (await sh('docker', ['ps', '-a', '--filter', `label=orch.node=${nodeId}`, '--format', '{{.Label "orch.service"}}'])).split('\n');
  return labels.filter((l) => services.includes(l)).length;
}

async function orchSide(): Promise<{ toN: Record<number, number>; startMs: number[] }> {
  const c = await ProcessCluster.start({ managers: 3, instrument: false, launcher: launcherArg() });
  const client = c.client({ deadlineMs: 30_000 });
  try {
    await c.waitForLeader();
    c.startWorker('w1', engine.host);
    await until(30_000, async () => (await client.nodes()).some((n) => n.status === 'ready'));
    const nodeId = (await client.nodes()).find((n) => n.status === 'ready')!.id;
    const running = async (name: string) => (await client.tasks({ service: name })).filter((t) => t.state === 'running').length;
    const toN: Record<number, number> = {};
    const t0 = performance.now();
    await client.createService({ name: 'bench', image: IMAGE, command: ['sleep', '3600'], replicas: sizes[0], network: 'none' });
    await until(120_000, async () => (await running('bench')) >= sizes[0]);
    toN[sizes[0]] = performance.now() - t0;
    for (const n of sizes.slice(1)) {
      const t1 = performance.now();
      await client.patchService('bench', { replicas: n });
      await until(120_000, async () => (await running('bench')) >= n);
      toN[n] = performance.now() - t1;
    }
    await client.stopService('bench');
    await until(120_000, async () => (await ourContainers(nodeId, ['bench'])) === 0);
    const startMs: number[] = [];
    for (let k = 0; k < starts; k++) {
      const t1 = performance.now();
      await sh(process.execPath, [ORCH_BIN, 'run', IMAGE, '--name', `lat${k}`, '--network', 'none', '--wait', '--', 'sleep', '3600'], { ORCH_MANAGER: c.addresses.join(',') });
      startMs.push(performance.now() - t1);
      await client.stopService(`lat${k}`);
    }
    await until(120_000, async () => (await ourContainers(nodeId, Array.from({ length: starts }, (_, k) => `lat${k}`))) === 0);
    return { toN, startMs };
  } finally {
    await client.close();
    await c.stop();
  }
}

/**
 * The machine's busy CPU time so far, in seconds (all cores; from /proc/stat, Linux only). Time
 * stolen by the hypervisor is left out; this script's own few API calls are in.
 */
function busyCpuS(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq] = f;
  return (user + nice + system + irq + softirq) / 100; // USER_HZ is 100 on Linux
}

/**
 * The engine's own floor: N containers created and started in parallel straight through the Docker
 * API (as orch's worker does, without the CLI's process start-ups), until the last has started. The
 * CPU the machine spent meanwhile, over its cores, estimates a floor under any orchestrator on this
 * engine (an estimate: it is the whole machine's, and 20 parallel starts may cost more than fewer would).
 */
async function engineFloor(n: number): Promise<{ ms: number; cpuS: number }> {
  const docker = new Docker({ socketPath: engine.host.replace(/^unix:\/\//, '') });
  const cpu0 = busyCpuS();
  const t0 = performance.now();
  const ids = await Promise.all(
    Array.from({ length: n }, async () => {
      const c = await docker.createContainer({ Image: IMAGE, Cmd: ['sleep', '3600'], Labels: { 'orch.bench': 'floor' }, HostConfig: { NetworkMode: 'none', Init: true } });
      await c.start();
      return c.id;
    }),
  );
  const ms = performance.now() - t0;
  const cpuS = busyCpuS() - cpu0;
  await Promise.all(ids.map((id) => docker.getContainer(id).remove({ force: true })));
  return { ms, cpuS };
}

async function swarmSide(): Promise<{ toN: Record<number, number>; startMs: number[] }> {
  const startMs: number[] = [];
  for (let k = 0; k < starts; k++) {
    const t1 = performance.now();
    const id = await sh('docker', ['run', '-d', '--network', 'none', IMAGE, 'sleep', '3600']);
    startMs.push(performance.now() - t1);
    await sh('docker', ['rm', '-f', id]);
  }
  await sh('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  const toN: Record<number, number> = {};
  try {
    const replicas = async () => (await sh('docker', ['service', 'ls', '--filter', 'name=bench', '--format', '{{.Replicas}}'])).split('/')[0];
    const t0 = performance.now();
    await sh('docker', ['service', 'create', '--detach', '--name', 'bench', '--replicas', String(sizes[0]), '--no-resolve-image', IMAGE, 'sleep', '3600']);
    await until(300_000, async () => Number(await replicas()) >= sizes[0]);
    toN[sizes[0]] = performance.now() - t0;
    for (const n of sizes.slice(1)) {
      const t1 = performance.now();
      await sh('docker', ['service', 'scale', '--detach', `bench=${n}`]);
      await until(300_000, async () => Number(await replicas()) >= n);
      toN[n] = performance.now() - t1;
    }
    await sh('docker', ['service', 'rm', 'bench']);
    await until(120_000, async () => (await sh('docker', ['ps', '-aq', '--filter', 'label=com.docker.swarm.service.name=bench'])) === '');
  } finally {
    await sh('docker', ['swarm', 'leave', '--force']).catch(() => undefined);
  }
  return { toN, startMs };
}

const cores = availableParallelism();
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
console.log(`swarm: orch vs Docker swarm mode on ${engine.host}; replicas ${sizes.join(' then ')} on one worker; ${starts} single starts each`);
const floor: Record<number, { ms: number; cpuS: number }> = {};
for (const n of sizes) floor[n] = await engineFloor(n);
const orch = await orchSide();
const swarm = withSwarm ? await swarmSide() : null;
for (const n of sizes) {
  const label = n === sizes[0] ? `create ${n} replicas` : `scale to ${n}`;
  console.log(`  ${label.padEnd(20)} orch ${s(orch.toN[n])}${swarm ? `  swarm ${s(swarm.toN[n])}  orch/swarm ${(orch.toN[n] / swarm.toN[n]).toFixed(2)}x` : ''}  (the engine alone, ${n} in parallel through its API: ${s(floor[n].ms)}, using ${floor[n].cpuS.toFixed(2)} CPU-s, about ${(floor[n].cpuS / cores).toFixed(2)} s on ${cores} cores)`);
}
const om = percentile([...orch.startMs].sort((a, b) => a - b), 50);
const dm = swarm ? percentile([...swarm.startMs].sort((a, b) => a - b), 50) : NaN;
console.log(`  start one task (p50) orch run --wait ${s(om)}${swarm ? `  docker run -d ${s(dm)}  orch/docker ${(om / dm).toFixed(2)}x` : ''}`);
process.stdout.write(JSON.stringify({ bench: 'swarm', launcher: launcherArg(), sizes, orch, swarm, engineFloor: floor, cores }) + '\n');
