// /v1/tasks and what workers report about tasks: one definition for the routes, the state, the
// client and the worker.
import { Type, type Static } from '@sinclair/typebox';
import { NullableInteger, NullableString, StringEnum } from './kinds.js';

export const TASK_STATES = ['pending', 'assigned', 'starting', 'running', 'complete', 'failed', 'shutdown', 'lost'] as const;
export const TaskState = StringEnum(TASK_STATES);
export type TaskState = (typeof TASK_STATES)[number];

/** States a task never leaves: every layer that asks "is it over?" asks this set. */
export const TERMINAL: ReadonlySet<TaskState> = new Set<TaskState>(['complete', 'failed', 'shutdown', 'lost']);

/** Whether `state` is one a task never leaves (takes any string: the CLI's and worker's views are loose). */
export function isTerminal(state: string): boolean {
  return (TERMINAL as ReadonlySet<string>).has(state);
}

export const TaskHealth = StringEnum(['starting', 'healthy', 'unhealthy']);
export type TaskHealth = Static<typeof TaskHealth>;

export const Desired = StringEnum(['running', 'shutdown']);

export const Task = Type.Object({
  id: Type.String(),
  serviceId: Type.String(),
  serviceName: Type.String(),
  slot: Type.Integer(),
  /** The service's taskVersion this task runs. */
  version: Type.Integer(),
  nodeId: NullableString,
  desired: Desired,
  state: TaskState,
  containerId: NullableString,
  exitCode: NullableInteger,
  error: NullableString,
  /** Why a pending task is not placed yet, for `orch get`. */
  reason: NullableString,
  /** Failures in a row of this slot before this task (the restart policy counts them). */
  restarts: Type.Integer(),
  /** When it was reported running; a rolling update monitors it from then. */
  runningAt: NullableInteger,
  /** Its health check's verdict; null when the service has none. */
  health: Type.Unsafe<TaskHealth | null>({ type: ['string', 'null'], enum: ['starting', 'healthy', 'unhealthy', null] }),
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
});
export type Task = Static<typeof Task>;

/** What one heartbeat may carry; workers cut their reports to these (src/worker/report-limits.ts). */
export const HEARTBEAT_LIMITS = { error: 4096, reports: 10_000 } as const;

/** What a worker tells about one of its tasks (in a heartbeat). */
export const TaskReport = Type.Object(
  {
    taskId: Type.String({ maxLength: 64 }),
    state: StringEnum(['starting', 'running', 'complete', 'failed', 'shutdown']),
    containerId: Type.Optional(Type.Union([Type.String({ pattern: '^[a-f0-9]{12,64}$' }), Type.Null()])),
    exitCode: Type.Optional(Type.Unsafe<number | null>({ type: ['integer', 'null'] })),
    error: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: HEARTBEAT_LIMITS.error })),
    health: Type.Optional(TaskHealth),
  },
  { additionalProperties: false },
);
export type TaskReport = Static<typeof TaskReport>;

/** GET /v1/tasks: a state filter shows finished tasks of that state; `all` shows every finished one too. */
export const TaskListQuery = Type.Object(
  {
    service: Type.Optional(Type.String({ maxLength: 128 })),
    node: Type.Optional(Type.String({ maxLength: 128 })),
    state: Type.Optional(TaskState),
    all: Type.Optional(Type.Boolean()),
    stale: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type TaskListQuery = Static<typeof TaskListQuery>;

/** GET /v1/tasks/:id/logs (relayed from the task's worker). */
export const TaskLogsQuery = Type.Object(
  { follow: Type.Optional(Type.Boolean()), tail: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })) },
  { additionalProperties: false },
);
export type TaskLogsQuery = Static<typeof TaskLogsQuery>;
