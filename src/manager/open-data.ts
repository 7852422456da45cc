// Opens a manager's data dir and settles who it is before anything serves: the Raft storage, its
// identity (checked against --peers/--join, or joined now, or forced by --force-new-cluster) and, in
// a TLS cluster, its certificate. Whatever fails closes what was opened and names the reason.
import { RaftStorage, type NodeId } from '../raft/index.js';
import { hasLocalTls } from '../security/local-store.js';
import { makePrivateDataDir } from '../security/data-dir.js';
import { forceNewCluster } from './force-new-cluster.js';
import { IdentityStore } from './identity-store.js';
import { joinCluster } from './join-cluster.js';
import type { ManagerOptions } from './options.js';
import { testHooksFromEnv } from './test-hooks.js';
import type { ManagerTls } from './tls-bootstrap.js';

export interface ManagerData {
  storage: RaftStorage;
  hooks: ReturnType<typeof testHooksFromEnv>;
  id: NodeId;
  clusterId: string;
  /** The managers this one knows of at start: --peers, or what the cluster said when it joined. */
  base: Map<NodeId, string>;
  mtls: ManagerTls | null;
}

export async function openManagerData(o: ManagerOptions, v: { self: string; peers: string[]; id: NodeId; clusterId: string }, certTtlMs: number, note: (m: string) => void): Promise<ManagerData> {
  const { self, peers } = v;
  let { id, clusterId } = v;
  makePrivateDataDir(o.dataDir);
  const hooks = testHooksFromEnv();
  const storage = await RaftStorage.open(o.dataDir, { testHookBeforeWrite: hooks.beforeWrite });
  const identities = new IdentityStore(storage);
  const known = await identities.get();
  let base = new Map<NodeId, string>(peers.map((p, k) => [k + 1, p]));
  if (o.join !== undefined) {
    try {
      if (known) {
        if (!known.joined) throw new Error(`--join: data dir ${o.dataDir} belongs to manager ${known.id} of cluster ${known.clusterId}, started with --peers; start it with --peers`);
        if (known.address !== self) throw new Error(`--join: data dir ${o.dataDir} belongs to manager ${known.id} at ${known.address}, not ${self}`);
      }
    } catch (err) {
      await storage.close();
      throw err;
    }
  } else if (known?.joined) {
    await storage.close();
    throw new Error(`data dir ${o.dataDir} belongs to manager ${known.id}, which joined cluster ${known.clusterId} at run time; start it with --join`);
  } else if (o.forceNewCluster) await forceNewCluster(o, storage, known, { id, address: self, clusterId }, peers);
  else if (known && (known.id !== id || known.address !== self || known.clusterId !== clusterId)) {
    await storage.close();
    throw new Error(
      `data dir ${o.dataDir} belongs to manager ${known.id} at ${known.address} of cluster ${known.clusterId}, not manager ${id} at ${self} of cluster ${clusterId} (check --listen/--peers, or use another --data-dir)`,
    );
  }
  // The X.509 library is loaded only for a TLS cluster.
  const bootstrap = o.insecure ? null : await import('./tls-bootstrap.js');
  let mtls: ManagerTls | null = null;
  try {
    if (o.insecure) {
      if (hasLocalTls(o.dataDir)) throw new Error(`--insecure: data dir ${o.dataDir} belongs to a TLS cluster (it has ${o.dataDir}/tls); start it without --insecure`);
    } else {
      if (o.join !== undefined && !o.token && !hasLocalTls(o.dataDir)) throw new Error('--join: joining a TLS cluster needs the manager join token (--token, see "orch token manager")');
      // A joining manager gets its certificate through the managers it was told to join through.
      const via = o.join !== undefined ? o.join.split(',').map((a) => a.trim()).filter(Boolean) : peers;
      mtls = await bootstrap!.bootstrapManagerTls({ dataDir: o.dataDir, self, peers: via, token: o.token, certTtlMs, hasRaftData: known !== null, log: note });
    }
  } catch (err) {
    await storage.close();
    throw err;
  }
  if (o.join !== undefined) {
    // A joining manager of a TLS cluster has its certificate by now (--token): it asks over mTLS.
    try {
      // The addresses to join through are the user's: any manager of the cluster will do there.
      const ident = known ?? (await joinCluster(o.join, self, mtls ? { url: (a, p) => `https://${a}${p}`, dispatcher: mtls.tls.agentFor({ role: 'manager' }) } : undefined));
      id = ident.id;
      clusterId = ident.clusterId;
      base = new Map(Object.entries(ident.joined ?? {}).map(([k, a]) => [Number(k), a]));
      if (!known) await identities.set(ident);
    } catch (err) {
      await storage.close();
      await mtls?.tls.close();
      throw err;
    }
  }
  if (!known && !o.forceNewCluster && o.join === undefined) await identities.set({ id, address: self, clusterId });
  return { storage, hooks, id, clusterId, base, mtls };
}
