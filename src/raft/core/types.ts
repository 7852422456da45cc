// The data that flows in and out of the Raft core. Everything here is plain data so that the driver
// can persist and encode it, and the simulator can copy, drop, delay and replay it.

/** A node's identity for all time: a positive integer, never reused (as in etcd's raft). */
export type NodeId = number;
/** "No node": no leader known, no vote cast. */
export const NONE: NodeId = 0;

export const EntryType = { Normal: 0, ConfChange: 1 } as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** The command; an empty array is the leader's no-op at the start of its term. */
  data: Uint8Array;
}

/** What must be on disk before any message of the same Ready leaves the node. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

/** The voter set is data, so that membership changes can be added without rewriting the core. */
export interface ConfState {
  /** Vote and count for commit. */
  voters: NodeId[];
  /** Receive the log but neither vote nor count (a manager catching up before it is promoted). */
  learners: NodeId[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** The application's state at meta.index, opaque to the core. */
  data: Uint8Array;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export interface SoftState {
  lead: NodeId;
  role: Role;
}

/** A read that is now safe to serve once the application has applied `index`. */
export interface ReadState {
  index: number;
  ctx: number;
}

interface Base {
  from: NodeId;
  to: NodeId;
  term: number;
}

/** AppendEntries: entries after (index, logTerm), and the leader's commit index. */
export interface AppMsg extends Base {
  type: 'app';
  index: number;
  logTerm: number;
  entries: Entry[];
  commit: number;
}

/**
 * The answer to an append or a snapshot. On success `index` is the last index the follower now holds
 * from the leader. On rejection `index` is the rejected prev index, and (hintIndex, hintTerm) is the
 * follower's best guess of where the logs may match, so the leader skips a whole term per round trip.
 */
export interface AppRespMsg extends Base {
  type: 'app-resp';
  index: number;
  reject: boolean;
  hintIndex: number;
  hintTerm: number;
}

/** RequestVote and its pre-vote twin. `transfer` marks a campaign started by a leadership transfer. */
export interface VoteMsg extends Base {
  type: 'vote' | 'pre-vote';
  index: number;
  logTerm: number;
  transfer: boolean;
}

export interface VoteRespMsg extends Base {
  type: 'vote-resp' | 'pre-vote-resp';
  reject: boolean;
}

/** Heartbeats carry the commit index the follower may use, and the newest read round to confirm. */
export interface HeartbeatMsg extends Base {
  type: 'heartbeat';
  commit: number;
  readRound: number;
}

export interface HeartbeatRespMsg extends Base {
  type: 'heartbeat-resp';
  readRound: number;
}

export interface SnapMsg extends Base {
  type: 'snap';
  snapshot: Snapshot;
}

/** Sent by the leader to the transfer target: campaign now, without waiting for a timeout. */
export interface TimeoutNowMsg extends Base {
  type: 'timeout-now';
}

/** A follower asks the leader for a read index on behalf of its own clients. */
export interface ReadIndexMsg extends Base {
  type: 'read-index';
  ctxs: number[];
}

export interface ReadIndexRespMsg extends Base {
  type: 'read-index-resp';
  index: number;
  ctxs: number[];
}

export type Message =
  | AppMsg
  | AppRespMsg
  | VoteMsg
  | VoteRespMsg
  | HeartbeatMsg
  | HeartbeatRespMsg
  | SnapMsg
  | TimeoutNowMsg
  | ReadIndexMsg
  | ReadIndexRespMsg;

export type MessageType = Message['type'];

/**
 * Everything the core asks of its caller since the last advance(). The caller must, in this order:
 * 1. persist `snapshot` (if any), `entries` (writing entry i discards persisted entries >= i) and
 *    `hardState` (if any) durably, in one atomic write;
 * 2. send `messages`;
 * 3. restore from `snapshot` (if any), then apply `committedEntries` in order; serve `readStates`
 *    once applied;
 * 4. call advance(ready).
 */
export interface Ready {
  softState: SoftState | null;
  hardState: HardState | null;
  snapshot: Snapshot | null;
  entries: Entry[];
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
}

export type ProposeResult =
  | { ok: true; index: number; term: number }
  | {
      ok: false;
      /** conf-change-pending: the last change is not committed yet, or this leader has not committed in its term. */
      reason: 'not-leader' | 'transferring' | 'too-many-uncommitted' | 'conf-change-pending' | 'bad-conf-change';
      lead: NodeId;
      /** What was wrong with a refused configuration change. */
      detail?: string;
    };
