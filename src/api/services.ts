// /v1/services: a service as stored in the replicated state, and as the API answers it (with counts
// and the rolling update's progress).
import { Type, type Static } from '@sinclair/typebox';
import { NullableString, StringEnum } from './kinds.js';
import { ServiceSpec } from './spec.js';
import { Task } from './tasks.js';

export const UPDATE_STATES = ['updating', 'paused', 'completed', 'rolling-back', 'rolled-back'] as const;

/**
 * A rolling update from one task version to another. `updating` and `rolling-back` are driven by the
 * leader's reconciler; `paused` waits for a person (a new spec or `orch update --rollback`).
 */
export const UpdateStatus = Type.Object({
  state: StringEnum(UPDATE_STATES),
  from: Type.Integer(),
  to: Type.Integer(),
  startedAt: Type.Integer(),
  updatedAt: Type.Integer(),
  message: NullableString,
});
export type UpdateStatus = Static<typeof UpdateStatus>;

export const ServiceStatus = StringEnum(['active', 'stopped']);

/**
 * A service in the replicated state. The API answers a ServiceView instead: `specs` and
 * `maxTaskVersion` are bookkeeping for the reconciler and rollbacks, not shown.
 */
export const Service = Type.Object({
  id: Type.String(),
  name: Type.String(),
  spec: ServiceSpec,
  /** Grows by one for every change of the spec. */
  version: Type.Integer(),
  /** Grows only when what a task runs changes (not for replicas or update settings): a scale is not a redeploy. */
  taskVersion: Type.Integer(),
  /** "stopped": `orch stop` asked for all its tasks to shut down. */
  state: ServiceStatus,
  /**
   * The spec each task version runs, by taskVersion: the current one, the one a rollback would
   * return to, and any a live task still runs (a worker needs it to start it or to check its health).
   */
  specs: Type.Record(Type.String(), ServiceSpec),
  /** The highest taskVersion ever given out: a rollback reuses an old number, a new spec never does. */
  maxTaskVersion: Type.Integer(),
  /** The last rolling update, while it runs and after it ended; null before the first. */
  update: Type.Union([UpdateStatus, Type.Null()]),
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
});
export type Service = Static<typeof Service>;

/** A rolling update as `orch get` shows it: `done` of `total` slots run the new version stably. */
export const UpdateView = Type.Composite([UpdateStatus, Type.Object({ done: Type.Integer(), total: Type.Integer() })]);
export type UpdateView = Static<typeof UpdateView>;

/** A service as the API answers it (every write and read of /v1/services). */
export const ServiceView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  version: Type.Integer(),
  taskVersion: Type.Integer(),
  state: ServiceStatus,
  spec: ServiceSpec,
  /** Tasks that should run and do. */
  running: Type.Integer(),
  /** Tasks that should run and are on a node, not finished. */
  placed: Type.Integer(),
  /** Tasks that should run: the replicas, 0 once stopped. */
  desired: Type.Integer(),
  update: Type.Union([UpdateView, Type.Null()]),
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
});
export type ServiceView = Static<typeof ServiceView>;

/** GET /v1/services/:id: the service with its tasks (by slot), unless ?tasks=false. */
export const ServiceWithTasks = Type.Composite([ServiceView, Type.Object({ tasks: Type.Array(Task) })]);
export type ServiceWithTasks = Static<typeof ServiceWithTasks>;

/** The longest a blocking read waits (below any proxy's or client's idle timeout). */
export const MAX_BLOCK_MS = 30_000;

/**
 * ?tasks=false: the service and its counts without the task list (which is 38 MB with 100,000 tasks).
 * ?index=N&wait=MS: a blocking read (Nomad's blocking queries): the answer waits until the cluster
 * state moves past index N (the X-Orch-Index of an earlier answer), or MS pass. `--wait` sees a
 * replica running as soon as the report applies instead of at its next poll.
 */
export const ServiceQuery = Type.Object(
  {
    stale: Type.Optional(Type.Boolean()),
    tasks: Type.Optional(Type.Boolean()),
    index: Type.Optional(Type.Integer({ minimum: 0 })),
    wait: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_BLOCK_MS })),
  },
  { additionalProperties: false },
);
