import type { ManagerOptions } from './options.js';
import type { NodeId, RaftStorage } from '../raft/index.js';
import { IdentityStore, type Identity } from './identity-store.js';

/**
 * --force-new-cluster: checks that this data dir holds a cluster's log and that --peers names only
 * this manager, then rewrites the identity to the new one-manager cluster. Raft then starts with
 * this manager as the only voter (over the snapshot's voter set); every entry in its log commits
 * under its first term as leader, as etcd's --force-new-cluster does.
 */
export async function forceNewCluster(o: ManagerOptions, storage: RaftStorage, known: Identity | null, next: { id: NodeId; address: string; clusterId: string }, peers: string[]): Promise<void> {
  const refuse = async (why: string) => {
    await storage.close();
    throw new Error(`--force-new-cluster: ${why}`);
  };
  if (peers.length !== 1) await refuse(`--peers must name only this manager (${next.address}): the new cluster starts with one manager; add others later`);
  const loaded = await storage.load();
  if (!known || loaded.empty) await refuse(`data dir ${o.dataDir} holds no cluster data; it must be the data dir of a surviving manager`);
  await new IdentityStore(storage).set(next);
  console.error(
    `orch manager: WARNING: forcing a new one-manager cluster ${next.clusterId} from the log of manager ${known!.id} (${known!.address}) of cluster ${known!.clusterId}; never start the other managers again with their old data`,
  );
}

