// Who made a request, as the API's access checks established it. Everything that keys state by
// caller (idempotency keys, rate limits) reads this, never a header the caller could choose.
import type { FastifyRequest } from 'fastify';

export type Caller =
  /** A bearer API token; `id` is the token's name (never its secret). */
  | { kind: 'token'; role: 'admin' | 'readonly'; id: string }
  /** A worker, proven by its certificate (or vouched for by the manager that forwarded its request). */
  | { kind: 'worker'; id: string }
  /** A manager of this cluster, by its certificate's name (its address). */
  | { kind: 'manager'; id: string }
  /** --insecure, or an open route. */
  | { kind: 'anonymous' };

declare module 'fastify' {
  interface FastifyRequest {
    orchCaller?: Caller;
  }
}

/** A stable string for the caller, to key per-caller state with: token:ID, worker:ID, manager:ADDR, anonymous. */
export function callerKey(req: FastifyRequest): string {
  const c = req.orchCaller ?? { kind: 'anonymous' };
  return c.kind === 'anonymous' ? 'anonymous' : `${c.kind}:${c.id}`;
}
