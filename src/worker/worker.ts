// The worker process: join the cluster through any manager, then run the agent.
import { hostname } from 'node:os';
import { OrchClient } from '../client/client.js';
import { Agent } from './agent.js';
import { measureCapacity, UsageSampler } from './resources.js';
import { DockerRuntime, dockerFromHost } from './runtime/docker.js';
import { SimRuntime } from './runtime/sim.js';
import { WorkerStore } from './store.js';
import { startLogsServer } from './logs-server.js';
import { NO_SERVER_ADDRESS, parseAddress } from '../manager/address.js';

export interface WorkerOptions {
  join: string[];
  name: string;
  dataDir: string;
  labels?: Record<string, string>;
  dockerHost?: string;
  heartbeatMs?: number;
  runtime?: 'docker' | 'sim';
  simNodes?: number;
  simCapacity?: { cpu: number; memory: number; disk: number };
  /** Where this worker serves its containers' logs (default 127.0.0.1 on a free port). */
  listen?: string;
  advertise?: string;
  log?: (msg: string) => void;
  /** A cluster run with --insecure: plain HTTP, no certificate. */
  insecure?: boolean;
  /** The worker join token, needed on a TLS cluster's first start only. */
  token?: string;
}

export interface Worker {
  id: string;
  stop(): Promise<void>;
}

export async function startWorker(o: WorkerOptions): Promise<Worker> {
  const log = o.log ?? ((m: string) => console.log(`${new Date().toISOString()} worker ${o.name}: ${m}`));
  const store = await WorkerStore.open(o.dataDir);
  const stops: (() => Promise<void>)[] = [];
  try {
    const known = await store.managers();
    const join = [...new Set([...o.join, ...known])];
    const usage = new UsageSampler();
    usage.start(o.heartbeatMs ?? 1000);
    stops.push(async () => usage.stop());
    if (o.runtime === 'sim') {
      // Many simulated nodes in one process, each joining and heartbeating as itself.
      const n = o.simNodes ?? 1;
      const ids: string[] = [];
      for (let k = 0; k < n; k++) {
        const name = n === 1 ? o.name : `${o.name}-${k + 1}`;
        const identity = await store.identity(name, n === 1 ? 'identity' : `identity-${k + 1}`);
        const tls = o.insecure ? null : await (await import('./tls.js')).workerTls({ dataDir: n === 1 ? o.dataDir : `${o.dataDir}/node-${k + 1}`, nodeId: identity.id, join, token: o.token, log });
        const client = new OrchClient(join, { deadlineMs: 30_000, tlsConnect: tls?.connector({ role: 'manager' }) });
        const reg = await client.registerNode({ id: identity.id, name, address: NO_SERVER_ADDRESS, labels: o.labels ?? {}, capacity: o.simCapacity ?? { cpu: 4, memory: 8 * 2 ** 30, disk: 100 * 2 ** 30 } });
        client.setManagers(reg.managers);
        const agent = new Agent(client, new SimRuntime(), identity.id, usage, { heartbeatMs: o.heartbeatMs ?? 1000, log: (m) => log(`${name}: ${m}`) });
        await agent.start();
        const stopRenewal = tls ? (await import('./tls.js')).startWorkerRenewal(n === 1 ? o.dataDir : `${o.dataDir}/node-${k + 1}`, tls, client, log) : () => undefined;
        stops.push(async () => {
          stopRenewal();
          await agent.stop();
          await client.close();
        });
        ids.push(identity.id);
      }
      log(`${n} simulated node(s) joined`);
      return { id: ids[0], stop: () => stopAll(stops, store) };
    }
    const identity = await store.identity(o.name);
    const tls = o.insecure ? null : await (await import('./tls.js')).workerTls({ dataDir: o.dataDir, nodeId: identity.id, join, token: o.token, log });
    const client = new OrchClient(join, { deadlineMs: 30_000, tlsConnect: tls?.connector({ role: 'manager' }) });
    stops.push(() => client.close());
    if (tls) {
      const stopRenewal = (await import('./tls.js')).startWorkerRenewal(o.dataDir, tls, client, log);
      stops.push(async () => stopRenewal());
    }
    const docker = dockerFromHost(o.dockerHost ?? process.env.DOCKER_HOST);
    try {
      await docker.ping();
    } catch (err) {
      throw new Error(`no Docker engine at ${o.dockerHost ?? process.env.DOCKER_HOST ?? 'the default socket'}: ${(err as Error).message} (run scripts/docker-engine.sh, or pass --docker-host)`);
    }
    const capacity = await measureCapacity();
    const listen = o.listen ? parseAddress('--listen', o.listen) : { host: '127.0.0.1', port: 0 };
    const logs = await startLogsServer(docker, identity.id, listen, tls);
    stops.push(() => logs.app.close());
    const address = o.advertise ?? (listen.host === '0.0.0.0' ? `${hostname()}:${logs.address.split(':').pop()}` : logs.address);
    const reg = await client.registerNode({ id: identity.id, name: identity.name, address, labels: o.labels ?? {}, capacity });
    client.setManagers(reg.managers);
    await store.setManagers(reg.managers);
    log(`joined as node ${identity.id} (${capacity.cpu} cpus, ${Math.round(capacity.memory / 2 ** 20)} MiB); managers ${reg.managers.join(',')}`);
    const agent = new Agent(client, new DockerRuntime(docker, identity.id), identity.id, usage, { heartbeatMs: o.heartbeatMs ?? 1000, log });
    await agent.start();
    stops.push(() => agent.stop());
    return { id: identity.id, stop: () => stopAll(stops, store) };
  } catch (err) {
    await stopAll(stops, store);
    throw err;
  }
}

async function stopAll(stops: (() => Promise<void>)[], store: WorkerStore): Promise<void> {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  await store.close();
}
