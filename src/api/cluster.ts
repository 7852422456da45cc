// The cluster's wire shapes: every manager's status (GET /v1/cluster, GET /raft/status), the
// cluster's policy settings, and membership changes (POST and DELETE /v1/managers).
import { Type, type Static } from '@sinclair/typebox';

const Suffrage = Type.Union([Type.Literal('voter'), Type.Literal('learner'), Type.Literal('none')]);

/** One manager as GET /v1/cluster lists it. */
export const ManagerInfo = Type.Object({
  id: Type.Integer(),
  address: Type.String(),
  /** leader, follower, candidate, pre-candidate; unknown when it did not answer. */
  role: Type.String(),
  term: Type.Integer(),
  commit: Type.Integer(),
  applied: Type.Integer(),
  reachable: Type.Boolean(),
  /** voter, learner (catching up, not yet counted), or none (removed, or not yet added) */
  suffrage: Type.Optional(Suffrage),
});
export type ManagerInfo = Static<typeof ManagerInfo>;

/** A manager's own view of itself: what it lists, and the leader it knows (null: none). */
export const ManagerStatus = Type.Composite([ManagerInfo, Type.Object({ leader: Type.Union([Type.Integer(), Type.Null()]) })]);
export type ManagerStatus = Static<typeof ManagerStatus>;

export const ClusterInfo = Type.Object({
  leader: Type.Union([Type.Integer(), Type.Null()]),
  term: Type.Integer(),
  managers: Type.Array(ManagerInfo),
});
export type ClusterInfo = Static<typeof ClusterInfo>;

/** ?digest=true adds a hash of the whole replicated state as of `applied`. */
export const RaftStatusQuery = Type.Object({ digest: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
export type RaftStatusQuery = Static<typeof RaftStatusQuery>;

/** GET /raft/status: the manager's status, with its log's bounds and its counters (for tests and operators). */
export const RaftStatus = Type.Composite([
  ManagerStatus,
  Type.Object({
    firstIndex: Type.Integer(),
    lastIndex: Type.Integer(),
    /** The Raft node's counters, as they are (their names are not a contract). */
    stats: Type.Unknown(),
    transport: Type.Unknown(),
    memory: Type.Unknown(),
    digest: Type.Optional(Type.String()),
  }),
]);
export type RaftStatus = Static<typeof RaftStatus>;

/** GET /v1/cluster/settings: the cluster's policy, in the replicated state. */
export const ClusterSettings = Type.Object({
  /** Whether specs may ask for privileged mode, extra capabilities or host paths. */
  allowPrivileged: Type.Boolean(),
  /**
   * Whether specs may ask for `network: host` (the host's loopback services are then in reach);
   * allowed unless an admin refuses it. Absent in states written before it: allowed.
   */
  allowHostNetwork: Type.Boolean(),
});
export type ClusterSettings = Static<typeof ClusterSettings>;

/** PATCH /v1/cluster/settings: the settings to change, at least one. */
export const ClusterSettingsPatch = Type.Object(
  { allowPrivileged: Type.Optional(Type.Boolean()), allowHostNetwork: Type.Optional(Type.Boolean()) },
  { additionalProperties: false, minProperties: 1 },
);
export type ClusterSettingsPatch = Static<typeof ClusterSettingsPatch>;

/** POST /v1/managers: the address (host:port) of the manager to add. */
export const AddManagerBody = Type.Object({ address: Type.String({ minLength: 3, maxLength: 300 }) }, { additionalProperties: false });
export type AddManagerBody = Static<typeof AddManagerBody>;

/** POST /v1/managers answers: the new manager's id and every manager's address, the new one's included. */
export const ManagerAdded = Type.Object({
  id: Type.Integer(),
  clusterId: Type.String(),
  managers: Type.Record(Type.String(), Type.String()),
});
export type ManagerAdded = Static<typeof ManagerAdded>;

export const ManagerIdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });
export type ManagerIdParams = Static<typeof ManagerIdParams>;

export const ConfState = Type.Object({ voters: Type.Array(Type.Integer()), learners: Type.Array(Type.Integer()) });

/** DELETE /v1/managers/:id answers: who was removed, and the configuration after. */
export const ManagerRemoved = Type.Object({
  removed: Type.Integer(),
  address: Type.Union([Type.String(), Type.Null()]),
  conf: ConfState,
});
export type ManagerRemoved = Static<typeof ManagerRemoved>;

/** POST /raft/removed (manager to manager): you, manager `id`, were removed. */
export const RemovedBody = Type.Object({ id: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });
export type RemovedBody = Static<typeof RemovedBody>;
