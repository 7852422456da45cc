import type { NodeId, RaftNode } from '../raft/index.js';
import type { ManagerState } from './state/machine.js';

/** What the API routes of a manager need: its Raft node, its replica of the state, its peers. */
export interface ManagerContext {
  node: RaftNode;
  state: ManagerState;
  /** Manager id -> its host:port. */
  addresses: ReadonlyMap<NodeId, string>;
  self: NodeId;
  /** Whether specs may ask for privileged mode, extra capabilities or host paths. */
  allowPrivileged?: boolean;
  /** A node's live usage from its heartbeats (known on the leader only). */
  usage?: (nodeId: string) => { cpu: number; memory: number; load: number } | null;
}
