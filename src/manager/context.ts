import type { Dispatcher } from 'undici';
import type { Usage } from '../api/nodes.js';
import type { NodeId, RaftNode } from '../raft/index.js';
import type { ManagerState } from './state/machine.js';
import type { ClusterSecrets } from '../api/tokens.js';
import type { TlsContext } from '../security/tls.js';

/** A TLS cluster's security: absent with --insecure. */
export interface ManagerSecurity {
  tls: TlsContext;
  /** The replicated state's secrets, or this manager's own copy until those are committed. */
  secrets(): ClusterSecrets;
  /** Lifetime of the node certificates this manager signs. */
  certTtlMs: number;
}

/**
 * How a manager calls its peers and workers: plain HTTP, or HTTPS presenting its certificate to a
 * server that must prove to be the node meant (undefined: plain HTTP's default dispatcher).
 */
export interface PeerNet {
  url(address: string, path: string): string;
  /** For a call to the manager whose address (and certificate name) is `address`. */
  manager(address: string): Dispatcher | undefined;
  /** For a call to the worker `nodeId`, whatever address it registered. */
  worker(nodeId: string): Dispatcher | undefined;
}

/** What the API routes of a manager need: its Raft node, its replica of the state, its peers. */
export interface ManagerContext {
  node: RaftNode;
  state: ManagerState;
  /** Manager id -> its host:port. */
  addresses: ReadonlyMap<NodeId, string>;
  self: NodeId;
  /**
   * This manager's --allow-privileged: what the cluster's settings are seeded with by its first
   * leader. The policy in force is the replicated one (api/settings.ts settingsOf).
   */
  allowPrivileged?: boolean;
  /** A node's live usage from its heartbeats (known on the leader only). */
  security?: ManagerSecurity;
  net: PeerNet;
  usage?: (nodeId: string) => Usage | null;
}
