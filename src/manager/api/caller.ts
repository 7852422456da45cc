// Who made a request, as the API's access checks established it. Everything that keys state by
// caller (idempotency keys, rate limits) reads this, never a header the caller could choose.
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

export type Caller =
  /** A bearer API token; `id` names the token (never its secret). */
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

/** A short, stable id for an API token's secret: its SHA-256, cut to 16 hex digits. */
export function tokenId(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 16);
}

/** A stable string for the caller, to key per-caller state with: token:ID, worker:ID, manager:ADDR, anonymous. */
export function callerKey(req: FastifyRequest): string {
  const c = req.orchCaller ?? { kind: 'anonymous' };
  return c.kind === 'anonymous' ? 'anonymous' : `${c.kind}:${c.id}`;
}
