// Parameters and answers several resources' routes share.
import { Type } from '@sinclair/typebox';
import { ErrorBody } from './errors.js';

/** The path parameter of a task, service or node named by id (or name). */
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' }) });

/** ?stale=true: answer from this manager's state without asking the leader first. */
export const StaleQuery = Type.Object({ stale: Type.Optional(Type.Boolean()) }, { additionalProperties: false });

/** A route's error answers: every 4xx and 5xx is an ErrorBody (src/manager/api/errors.ts writes them). */
export const ErrorAnswers = { '4xx': ErrorBody, '5xx': ErrorBody } as const;
