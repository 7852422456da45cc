// The bridge from HTTP requests to the replicated state: writes are proposed on the leader (a
// follower forwards them, as Swarm's managers do), and reads are linearizable through ReadIndex
// unless the caller asks for ?stale=true.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { request } from 'undici';
import { NONE, NotCommittedError, NotLeaderError, OutcomeUnknownError } from '../../raft/index.js';
import type { ManagerContext } from '../context.js';
import { ManagerState, type Command } from '../state/machine.js';
import { ApiError } from './errors.js';
import { commandIdOf } from './idempotency.js';
import { ON_BEHALF_OF, onBehalfOf } from './auth.js';
import { LEADER_HINT, WRITE_OUTCOME } from '../../api/headers.js';

export const FORWARDED = 'x-orch-forwarded';
const IDEMPOTENCY = 'idempotency-key';
const LEADER_HOLD_MS = 3000;

function noLeader(): ApiError {
  return new ApiError(503, 'no-leader', 'no leader: the managers are electing one or have lost their quorum; retry shortly');
}

/** Names the leader this follower knows on its answer, so the client can go there next time. */
function hintLeader(ctx: ManagerContext, reply: FastifyReply): void {
  const lead = ctx.node.leaderId();
  const addr = lead === NONE || lead === ctx.self ? undefined : ctx.addresses.get(lead);
  if (addr) reply.header(LEADER_HINT, addr);
}

/**
 * Sends the request on to the leader and relays its answer; returns true when it did, false when
 * this node leads. (A boolean, not the reply: a FastifyReply is a thenable, which `await` unwraps.)
 */
export async function forwardIfFollower(ctx: ManagerContext, req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
  if (ctx.node.isLeader()) return false;
  if (req.headers[FORWARDED]) {
    hintLeader(ctx, reply);
    throw new ApiError(503, 'leader-changed', 'the leader changed while the request was forwarded; retry');
  }
  // During an election, hold the request for about two election timeouts rather than fail it.
  const lead = ctx.node.leaderId() === NONE ? await ctx.node.leaderKnown(LEADER_HOLD_MS) : ctx.node.leaderId();
  if (lead === ctx.self) return false;
  const addr = lead === NONE ? undefined : ctx.addresses.get(lead);
  if (!addr) throw noLeader();
  const headers: Record<string, string> = { [FORWARDED]: String(ctx.self) };
  for (const h of ['content-type', IDEMPOTENCY, 'authorization']) {
    const v = req.headers[h];
    if (typeof v === 'string') headers[h] = v;
  }
  // A node's request: this manager checked its certificate and vouches for it (the leader sees ours).
  const node = onBehalfOf(req.orchCaller);
  if (node) headers[ON_BEHALF_OF] = node;
  let res;
  try {
    res = await request(ctx.net.url(addr, req.url), {
      dispatcher: ctx.net.manager(addr),
      method: req.method as 'PUT',
      headers,
      body: req.body === undefined || req.body === null ? undefined : JSON.stringify(req.body),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
  } catch (err) {
    throw new ApiError(503, 'leader-unreachable', `the leader (manager ${lead} at ${addr}) did not answer: ${(err as Error).message}; retry`);
  }
  const text = await res.body.text();
  // The leader answered: the client may ask it directly next time. Unless it answered 503 (it no
  // longer leads): then what it knows of the leader, if it is a manager this one knows too.
  const upstream = res.headers[LEADER_HINT];
  const known = typeof upstream === 'string' && [...ctx.addresses.values()].includes(upstream);
  const hint = res.statusCode !== 503 ? addr : known ? upstream : undefined;
  if (hint) reply.header(LEADER_HINT, hint);
  const outcome = res.headers[WRITE_OUTCOME];
  if (typeof outcome === 'string') reply.header(WRITE_OUTCOME, outcome);
  reply.code(res.statusCode).header('content-type', res.headers['content-type'] ?? 'application/json').send(text);
  return true;
}

/** Proposes a command on the leader and returns the state machine's result. */
export async function propose(ctx: ManagerContext, req: FastifyRequest, cmd: Command): Promise<unknown> {
  const { id, key } = commandIdOf(req);
  try {
    return await ctx.node.propose(ManagerState.encode({ ...cmd, id } as never));
  } catch (err) {
    if (err instanceof NotLeaderError) throw new ApiError(503, 'leader-changed', `${err.message}; retry`);
    if (err instanceof OutcomeUnknownError) {
      throw new ApiError(503, 'outcome-unknown', `${err.message}; retry with the same Idempotency-Key (${key}) to learn or complete it`, { idempotencyKey: key });
    }
    if (err instanceof NotCommittedError) throw new ApiError(503, 'not-committed', `${err.message}; retry`);
    throw err;
  }
}

/** Waits until a linearizable read may be served from this node's state (unless stale is asked). */
export async function readBarrier(ctx: ManagerContext, stale: boolean): Promise<void> {
  if (stale) return;
  try {
    await ctx.node.readBarrier();
  } catch (err) {
    if (err instanceof NotLeaderError) throw new ApiError(503, 'no-leader', `cannot confirm a linearizable read: ${err.message}; retry, or read with ?stale=true`);
    throw err;
  }
}

/**
 * What a write acts on, found in this leader's state, with a read barrier only when it is not
 * there. The write is decided again when it applies, after every write before it (the target may
 * be gone by then), so only a miss needs the state as of now: it is confirmed before it is refused.
 * Where the decision itself is made on the state outside the log, use readBarrier.
 */
export async function targetOfWrite<T>(ctx: ManagerContext, find: () => T | undefined): Promise<T | undefined> {
  const hit = find();
  if (hit !== undefined) return hit;
  await readBarrier(ctx, false);
  return find();
}
