// Parameters several resources' routes take alike.
import { Type } from '@sinclair/typebox';

/** The path parameter of a task, service or node named by id (or name). */
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' }) });

/** ?stale=true: answer from this manager's state without asking the leader first. */
export const StaleQuery = Type.Object({ stale: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
