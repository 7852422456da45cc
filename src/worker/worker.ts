// The worker process: join the cluster through any manager, then run the agent.
import { hostname } from 'node:os';
import { OrchClient } from '../client/client.js';
import { Agent } from './agent.js';
import { measureCapacity, UsageSampler } from './resources.js';
import { DockerRuntime, dockerFromHost } from './runtime/docker.js';
import { WorkerStore } from './store.js';
import { startLogsServer } from './logs-server.js';
import { parseAddress } from '../manager/address.js';

export interface WorkerOptions {
  join: string[];
  name: string;
  dataDir: string;
  labels?: Record<string, string>;
  dockerHost?: string;
  heartbeatMs?: number;
  /** Where this worker serves its containers' logs (default 127.0.0.1 on a free port). */
  listen?: string;
  advertise?: string;
  log?: (msg: string) => void;
}

export interface Worker {
  id: string;
  stop(): Promise<void>;
}

export async function startWorker(o: WorkerOptions): Promise<Worker> {
  const log = o.log ?? ((m: string) => console.log(`${new Date().toISOString()} worker ${o.name}: ${m}`));
  const store = await WorkerStore.open(o.dataDir);
  let identity;
  try {
    identity = await store.identity(o.name);
  } catch (err) {
    await store.close();
    throw err;
  }
  const known = await store.managers();
  const client = new OrchClient([...new Set([...o.join, ...known])], { deadlineMs: 30_000 });
  const docker = dockerFromHost(o.dockerHost ?? process.env.DOCKER_HOST);
  try {
    await docker.ping();
  } catch (err) {
    await store.close();
    throw new Error(`no Docker engine at ${o.dockerHost ?? process.env.DOCKER_HOST ?? 'the default socket'}: ${(err as Error).message} (run scripts/docker-engine.sh, or pass --docker-host)`);
  }
  const capacity = await measureCapacity();
  const listen = o.listen ? parseAddress('--listen', o.listen) : { host: '127.0.0.1', port: 0 };
  const logs = await startLogsServer(docker, identity.id, listen);
  const address = o.advertise ?? (listen.host === '0.0.0.0' ? `${hostname()}:${logs.address.split(':').pop()}` : logs.address);
  const reg = await client.registerNode({ id: identity.id, name: identity.name, address, labels: o.labels ?? {}, capacity });
  client.setManagers(reg.managers);
  await store.setManagers(reg.managers);
  log(`joined as node ${identity.id} (${capacity.cpu} cpus, ${Math.round(capacity.memory / 2 ** 20)} MiB); managers ${reg.managers.join(',')}`);
  const usage = new UsageSampler();
  usage.start(o.heartbeatMs ?? 1000);
  const agent = new Agent(client, new DockerRuntime(docker, identity.id), identity.id, usage, { heartbeatMs: o.heartbeatMs ?? 1000, log });
  await agent.start();
  return {
    id: identity.id,
    stop: async () => {
      await agent.stop();
      usage.stop();
      await logs.app.close();
      await client.close();
      await store.close();
    },
  };
}
