// The Idempotency-Key header: checked before anything else of a request, and turned into the id of
// the command the request proposes. A client's key lives in its caller's own namespace
// (c:<caller>:<key>), so it can neither collide with another caller's key nor pre-claim an id the
// managers give their own commands (leader.<term>.<id>, security.init.<cluster>, ...), none of
// which starts with "c:".
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { callerKey } from './caller.js';
import { ApiError } from './errors.js';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** Long enough for a UUID with a prefix, short enough that remembering 100,000 of them stays cheap. */
export const MAX_KEY_LENGTH = 128;
const KEY_ALPHABET = /^[A-Za-z0-9._:-]+$/;
/** Every id a client's request can produce starts with this; the managers' own ids never do. */
export const CLIENT_ID_PREFIX = 'c:';

/** The request's Idempotency-Key, if it has one; a bad one is refused with 400, naming the rule. */
export function idempotencyKeyOf(req: FastifyRequest): string | undefined {
  const v = req.headers[IDEMPOTENCY_HEADER];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badKey('it was given more than once');
  if (v.length > MAX_KEY_LENGTH) throw badKey(`it is ${v.length} characters long`);
  if (!KEY_ALPHABET.test(v)) throw badKey(v.length === 0 ? 'it is empty' : 'it has other characters');
  return v;
}

function badKey(why: string): ApiError {
  return new ApiError(400, 'bad-idempotency-key', `the Idempotency-Key header must be 1 to ${MAX_KEY_LENGTH} characters of A-Z a-z 0-9 . _ : - (${why})`, { header: 'Idempotency-Key', maxLength: MAX_KEY_LENGTH, alphabet: 'A-Za-z0-9._:-' });
}

/** The id of the command a request proposes: its key (or a fresh one) in the caller's namespace. */
export function commandIdOf(req: FastifyRequest): { id: string; key: string } {
  const key = idempotencyKeyOf(req) ?? randomUUID();
  return { id: `${CLIENT_ID_PREFIX}${callerKey(req)}:${key}`, key };
}

/**
 * Refuses a bad key on every request, before its body is read and before a follower forwards it:
 * also on routes that propose only sometimes (a heartbeat without task reports), so a bad key is
 * never an answer that depends on the state. Installed after the access checks (401/403 first).
 */
export function installIdempotencyKeyCheck(app: FastifyInstance): void {
  app.addHook('onRequest', async (req) => {
    idempotencyKeyOf(req);
  });
}
