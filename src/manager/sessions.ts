// Which agent runs each node, on the leader, in memory. Every worker agent makes a random session id
// when it starts and sends it with its registration, heartbeats and assignment polls. Two agents
// with one identity (a copied data dir, a stolen certificate) would otherwise both run the node's
// tasks and report on them, each removing the other's containers.
//
// The rule:
// - A node's session is the first one heard from; each request of that session renews it.
// - Another session is refused (409 node-session-taken) while the holder was heard from within
//   `staleMs`; the holder keeps working.
// - Once the holder has been silent for longer, the next session heard from takes the node over,
//   and the old one, if it comes back, is refused in turn (its agent stops).
// - staleMs is shorter than the window that makes a node down, so that a worker restarted in place
//   (a new session: the process is new) takes its node over before its tasks are declared lost.
// - A new leader knows no sessions (a new term clears them): it adopts the first it hears from.
// - A request without a session (an agent of an older version, a hand-made call) is not checked.
export interface SessionRefusal {
  /** How long ago the holding session was heard from. */
  heardMsAgo: number;
  /** When, from now, the holder counts as gone if it stays silent. */
  retryInMs: number;
}

export class NodeSessions {
  private readonly held = new Map<string, { session: string; at: number }>();
  private term = -1;

  constructor(readonly staleMs: number) {}

  /** Claims (or renews) node `nodeId` for `session` in leader term `term`: null if granted, else why not. */
  claim(nodeId: string, session: string | undefined, term: number, now: number): SessionRefusal | null {
    if (term !== this.term) {
      this.held.clear();
      this.term = term;
    }
    if (session === undefined) return null;
    const h = this.held.get(nodeId);
    if (h && h.session !== session && now - h.at <= this.staleMs) {
      return { heardMsAgo: now - h.at, retryInMs: this.staleMs - (now - h.at) + 1 };
    }
    this.held.set(nodeId, { session, at: now });
    return null;
  }
}
