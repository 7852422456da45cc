// Task states and health verdicts as small numbers. A snapshot stores these positions, so the order
// is part of the snapshot format: append, never reorder.
import type { Task, TaskState } from './types.js';

export const STATES: readonly TaskState[] = ['pending', 'assigned', 'starting', 'running', 'complete', 'failed', 'shutdown', 'lost'];
export const STATE_CODE = Object.fromEntries(STATES.map((v, k) => [v, k])) as Record<TaskState, number>;
export const HEALTHS = ['starting', 'healthy', 'unhealthy'] as const;
export const HEALTH_CODE = { starting: 0, healthy: 1, unhealthy: 2 } as const satisfies Record<NonNullable<Task['health']>, number>;
