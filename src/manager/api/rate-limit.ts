// Per-caller limits on writes (@fastify/rate-limit): each API token, and each worker node, may make
// so many writes a second through this manager; past that the answer is 429 with Retry-After. Reads
// are never limited, nor the Raft transport, nor requests a manager of the cluster forwards (they
// were counted at the manager that took them from the client).
//
// The budgets are per manager, in a fixed one-second window. A token's default, 10,000 writes a
// second, is more than the whole cluster commits (docs/performance.md), so only a runaway client
// meets it. A node's, 100 a second, is a hundred times a
// worker's heartbeat (one a second) with room for its registration and retries.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { callerKey } from './caller.js';
import { ApiError } from './errors.js';
import { FORWARDED } from './consensus.js';

export interface WriteLimits {
  /** Writes a second one API token may make through this manager; 0: no limit. */
  perToken: number;
  /** Writes a second one worker node may make through this manager; 0: no limit. */
  perNode: number;
}

export const DEFAULT_WRITE_LIMITS: WriteLimits = { perToken: 10_000, perNode: 100 };

const isWrite = (req: FastifyRequest) => req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS';

/** Whose budget a request spends: callers without an identity (--insecure, the open join route) are told apart by address. */
const keyOf = (req: FastifyRequest) => (req.orchCaller && req.orchCaller.kind !== 'anonymous' ? callerKey(req) : `anonymous:${req.ip}`);

/**
 * A request a manager of the cluster forwarded: proven by the manager certificate of the connection
 * (the caller is then the user or node it forwards for), or, with --insecure (no identities, and
 * nothing to protect by them), said by its header.
 */
const forwardedBy = (insecure: boolean) => (req: FastifyRequest) => req.orchPeer?.role === 'manager' || (insecure && req.headers[FORWARDED] !== undefined);

/** Registers the limits; must come before the routes it limits (it hooks each route as it is added). */
export async function installWriteLimits(app: FastifyInstance, limits: WriteLimits, insecure: boolean): Promise<void> {
  const forwarded = forwardedBy(insecure);
  const budget = (key: string) => (key.startsWith('worker:') ? limits.perNode : limits.perToken);
  await app.register(rateLimit, {
    global: true,
    // After the access checks (onRequest), which say who the caller is; before the body is read.
    hook: 'preParsing',
    timeWindow: 1000,
    keyGenerator: keyOf,
    max: (_req, key) => budget(key),
    allowList: (req, key) => !isWrite(req) || forwarded(req) || req.url.startsWith('/raft/') || budget(key) === 0,
    // Only the headers of a refusal: the rest would cost every write three headers.
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    errorResponseBuilder: (req, c) =>
      new ApiError(429, 'rate-limited', `${keyOf(req)} made more than ${c.max} writes in a second through this manager; retry after ${c.after}`, { limit: c.max, retryAfterMs: c.ttl }),
  });
}
