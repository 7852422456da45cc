// /v1/nodes and the worker protocol (register, heartbeat, assignments): the nodes as stored and
// answered, and every body a worker and the managers exchange.
import { Type, type Static } from '@sinclair/typebox';
import { NullableString, StringEnum } from './kinds.js';
import { ServiceSpec } from './spec.js';
import { Desired, HEARTBEAT_LIMITS, TaskReport, TaskState } from './tasks.js';

/** What a machine offers: cpus, and bytes of memory and disk. */
export const Capacity = Type.Object(
  { cpu: Type.Number({ minimum: 0, maximum: 100_000 }), memory: Type.Integer({ minimum: 0 }), disk: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);
export type Capacity = Static<typeof Capacity>;

/** What a machine uses now (cpu as a fraction of all, memory in bytes, the load average): in heartbeats. */
export const Usage = Type.Object({ cpu: Type.Number(), memory: Type.Number(), load: Type.Number() }, { additionalProperties: false });
export type Usage = Static<typeof Usage>;

/** The cpus and bytes the tasks placed on a node reserve. */
export const Reserved = Type.Object({ cpu: Type.Number(), memory: Type.Number(), disk: Type.Number() });
export type Reserved = Static<typeof Reserved>;

export const AVAILABILITIES = ['active', 'pause', 'drain'] as const;
export const Availability = StringEnum(AVAILABILITIES);
export type Availability = Static<typeof Availability>;

/** A node in the replicated state (and in the API's answers about one node). */
export const NodeRecord = Type.Object({
  id: Type.String(),
  name: Type.String(),
  address: Type.String(),
  labels: Type.Record(Type.String(), Type.String()),
  capacity: Type.Object({ cpu: Type.Number(), memory: Type.Number(), disk: Type.Number() }),
  availability: Availability,
  status: StringEnum(['ready', 'down']),
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
});
export type NodeRecord = Static<typeof NodeRecord>;

/** GET /v1/nodes: a node with what its tasks reserve and its live usage (the leader's, from heartbeats; null if none yet). */
export const NodeInfo = Type.Composite([NodeRecord, Type.Object({ reserved: Reserved, usage: Type.Union([Usage, Type.Null()]) })]);
export type NodeInfo = Static<typeof NodeInfo>;

/** The path parameter of the worker routes: a node id as workers make them. */
export const NodeIdParams = Type.Object({ id: Type.String({ pattern: '^[a-f0-9]{12}$' }) });

/** PATCH /v1/nodes/:id. */
export const AvailabilityBody = Type.Object({ availability: Availability }, { additionalProperties: false });

/** The agent's session (see src/manager/sessions.ts): in the query, which a follower forwards with the path. */
const Session = Type.String({ pattern: '^[a-f0-9]{32}$' });
export const SessionQuery = Type.Object({ session: Type.Optional(Session) }, { additionalProperties: false });

/** POST /v1/nodes/register: who the node is and what it offers. */
export const NodeRegistration = Type.Object(
  {
    id: Type.String({ pattern: '^[a-f0-9]{12}$' }),
    name: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' }),
    address: Type.String({ maxLength: 256 }),
    labels: Type.Record(Type.String(), Type.String({ maxLength: 256 }), { maxProperties: 64 }),
    capacity: Capacity,
  },
  { additionalProperties: false },
);
export type NodeRegistration = Static<typeof NodeRegistration>;

/** The register answer: the managers' addresses (by Raft id) for the worker to use from now on. */
export const RegisterAnswer = Type.Object({ id: Type.String(), managers: Type.Array(Type.String()), term: Type.Integer() });
export type RegisterAnswer = Static<typeof RegisterAnswer>;

/** POST /v1/nodes/:id/heartbeat: live usage and the task reports queued since the last one. */
export const HeartbeatBody = Type.Object(
  { usage: Type.Optional(Usage), reports: Type.Optional(Type.Array(TaskReport, { maxItems: HEARTBEAT_LIMITS.reports })) },
  { additionalProperties: false },
);
export type HeartbeatBody = Static<typeof HeartbeatBody>;

/** The heartbeat answer: the leader's term and Raft id, and the managers' addresses. */
export const HeartbeatAnswer = Type.Object({ term: Type.Integer(), leader: Type.Integer(), managers: Type.Array(Type.String()) });
export type HeartbeatAnswer = Static<typeof HeartbeatAnswer>;

/** GET /v1/nodes/:id/assignments: since the version the worker has (-1: none yet), waiting up to `wait` ms. */
export const AssignmentsQuery = Type.Object(
  { since: Type.Optional(Type.Integer({ minimum: -1 })), wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 30_000 })), session: Type.Optional(Session) },
  { additionalProperties: false },
);

/** A task a node should run (or stop), with the spec of its version. */
export const Assignment = Type.Object({
  id: Type.String(),
  serviceId: Type.String(),
  serviceName: Type.String(),
  slot: Type.Integer(),
  desired: Desired,
  state: TaskState,
  containerId: NullableString,
  spec: Type.Union([ServiceSpec, Type.Null()]),
});
export type Assignment = Static<typeof Assignment>;

export const Assignments = Type.Object({
  term: Type.Integer(),
  version: Type.Integer(),
  /** Absent when `unchanged`: the node's assignments are still those of `version`. */
  tasks: Type.Optional(Type.Array(Assignment)),
  unchanged: Type.Optional(Type.Literal(true)),
});
export type Assignments = Static<typeof Assignments>;

/** DELETE /v1/nodes/:id: the node is gone; its unfinished tasks were lost (and are replaced). */
export const NodeRemoved = Type.Object({ id: Type.String(), name: Type.String(), removed: Type.Literal(true), tasksLost: Type.Integer() });
export type NodeRemoved = Static<typeof NodeRemoved>;
