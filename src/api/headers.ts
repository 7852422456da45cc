// Headers of the API that say something beside an answer's body, for the managers that send them
// and the clients that read them.

/**
 * On an answer a follower relayed from the leader (or a 503 it gave while it knew one): the
 * leader's host:port. A client sends its next requests there directly, if it is one of the
 * managers the client already knows (see OrchClient), rather than through the follower again.
 */
export const LEADER_HINT = 'x-orch-leader';

/** On the answer of POST /v1/services: what the write did, as the state machine applied it. */
export const WRITE_OUTCOME = 'x-orch-outcome';

export type WriteOutcome = 'created' | 'updated' | 'unchanged';

/** The outcome of a service create-or-update, from the state machine's result. */
export function upsertOutcome(res: { created: boolean; changed: boolean }): WriteOutcome {
  return res.created ? 'created' : res.changed ? 'updated' : 'unchanged';
}
