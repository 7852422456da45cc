// The worker process: join the cluster through any manager, then run the agent.
import { hostname } from 'node:os';
import type { Capacity } from '../api/nodes.js';
import { OrchClient } from '../client/client.js';
import { Agent, fatalOf, type Fatal } from './agent.js';
import { measureCapacity, UsageSampler } from './resources.js';
import { DockerRuntime, dockerFromHost } from './runtime/docker.js';
import { SimRuntime } from './runtime/sim.js';
import { WorkerStore } from './store.js';
import { startLogsServer } from './logs-server.js';
import { NO_SERVER_ADDRESS, parseAddress } from '../api/address.js';
import { newSession, registerNode } from './register.js';
import { ownerLabels, removeOldIdentities } from './old-identity.js';

export interface WorkerOptions {
  join: string[];
  name: string;
  dataDir: string;
  labels?: Record<string, string>;
  dockerHost?: string;
  heartbeatMs?: number;
  runtime?: 'docker' | 'sim';
  simNodes?: number;
  simCapacity?: Capacity;
  /** Where this worker serves its containers' logs (default 127.0.0.1 on a free port). */
  listen?: string;
  advertise?: string;
  log?: (msg: string) => void;
  /** A cluster run with --insecure: plain HTTP, no certificate. */
  insecure?: boolean;
  /** The worker join token, needed on a TLS cluster's first start only. */
  token?: string;
  /** An image pull that makes no progress for this long is given up (default 2 minutes). */
  pullTimeoutMs?: number;
}

export interface Worker {
  id: string;
  stop(): Promise<void>;
  /**
   * Resolves, with one line saying why, when the managers ended this worker: its node was removed
   * (its containers are removed by then) or another agent runs it. The caller should stop() and exit.
   */
  ended: Promise<string>;
}

/** The line a worker ends with when the managers will not have it any more. */
function endLine(nodeId: string, f: Fatal): string {
  return f.kind === 'revoked'
    ? `node ${nodeId} was removed from the cluster: its containers were stopped and removed, and this worker exits (to join again, wipe its data dir and start it with a token) [${f.message}]`
    : `node ${nodeId} is run by another agent now (a copy of this data dir?): this worker exits and leaves its containers to that agent [${f.message}]`;
}

export async function startWorker(o: WorkerOptions): Promise<Worker> {
  const log = o.log ?? ((m: string) => console.log(`${new Date().toISOString()} worker ${o.name}: ${m}`));
  const store = await WorkerStore.open(o.dataDir);
  const stops: (() => Promise<void>)[] = [];
  let end: (line: string) => void = () => undefined;
  const ended = new Promise<string>((resolve) => (end = resolve));
  const session = newSession();
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
        const client: OrchClient = new OrchClient(join, { deadlineMs: 30_000, tlsConnect: tls?.managerConnector((a) => client.clusterGave(a)) });
        const reg = await registerNode(client, { id: identity.id, name, address: NO_SERVER_ADDRESS, labels: o.labels ?? {}, capacity: o.simCapacity ?? { cpu: 4, memory: 8 * 2 ** 30, disk: 100 * 2 ** 30 } }, session, log);
        client.setManagers(reg.managers);
        const agent = new Agent(client, new SimRuntime(), identity.id, usage, { heartbeatMs: o.heartbeatMs ?? 1000, log: (m) => log(`${name}: ${m}`), session, onFatal: (f) => end(endLine(identity.id, f)) });
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
      return { id: ids[0], stop: () => stopAll(stops, store), ended };
    }
    const identity = await store.identity(o.name);
    const tls = o.insecure ? null : await (await import('./tls.js')).workerTls({ dataDir: o.dataDir, nodeId: identity.id, join, token: o.token, log });
    const client: OrchClient = new OrchClient(join, { deadlineMs: 30_000, tlsConnect: tls?.managerConnector((a) => client.clusterGave(a)) });
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
    const runtime = new DockerRuntime(docker, identity.id, 10, { pullTimeoutMs: o.pullTimeoutMs, log, labels: ownerLabels(identity.name, o.dataDir) });
    let reg;
    try {
      reg = await registerNode(client, { id: identity.id, name: identity.name, address, labels: o.labels ?? {}, capacity }, session, log);
    } catch (err) {
      // Removed while this worker was stopped: what it left running goes, as it would have gone.
      const f = fatalOf(err);
      if (f?.kind !== 'revoked') throw err;
      const left = await runtime.list().catch(() => []);
      await Promise.all(left.map((c) => runtime.remove(c.containerId).catch(() => undefined)));
      throw new Error(endLine(identity.id, f));
    }
    client.setManagers(reg.managers);
    await store.setManagers(reg.managers);
    log(`joined as node ${identity.id} (${capacity.cpu} cpus, ${Math.round(capacity.memory / 2 ** 20)} MiB); managers ${reg.managers.join(',')}`);
    // Only now: the managers took this node and its name, so no live node holds that name.
    await removeOldIdentities(docker, { nodeId: identity.id, name: identity.name, dataDir: o.dataDir, log });
    const agent = new Agent(client, runtime, identity.id, usage, { heartbeatMs: o.heartbeatMs ?? 1000, log, session, onFatal: (f) => end(endLine(identity.id, f)) });
    await agent.start();
    stops.push(() => agent.stop());
    return { id: identity.id, stop: () => stopAll(stops, store), ended };
  } catch (err) {
    await stopAll(stops, store);
    throw err;
  }
}

async function stopAll(stops: (() => Promise<void>)[], store: WorkerStore): Promise<void> {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  await store.close();
}
