// The timeouts every orch HTTP server (the manager's API, the worker's logs server) runs with, so
// that a client cannot hold a connection by sending a request slowly or by going quiet. Long-polls
// (assignments, ?wait= reads: at most 30 s), event streams (a keep-alive every 15 s) and log
// follows (which turn the idle timeout off for their own socket) all fit inside them.

export interface ServerTimeouts {
  /** The whole request (headers and body) must arrive within this; a slow sender is cut off with 408. */
  requestTimeoutMs: number;
  /** A socket with no traffic either way for this long is closed (over twice the longest long-poll). */
  idleTimeoutMs: number;
  /** A kept-alive connection waits this long for its next request. */
  keepAliveTimeoutMs: number;
}

/**
 * 30 s for a request: a 2 MiB body (the API's limit) at 70 KB/s; Raft snapshots travel in chunks,
 * one request each. 75 s idle: two and a half of the longest long-poll.
 */
export const DEFAULT_SERVER_TIMEOUTS: ServerTimeouts = { requestTimeoutMs: 30_000, idleTimeoutMs: 75_000, keepAliveTimeoutMs: 30_000 };

/** The Fastify options for these timeouts; `tls` is the https options, if the server has any. */
export function timeoutOptions(t: ServerTimeouts, tls?: object): Record<string, unknown> {
  // Given to the server's constructor too: Node applies a requestTimeout set afterwards (as Fastify
  // does) to a request's headers but not to its body. And Node looks for requests past their
  // timeout only this often (30 s by default): a quarter of it cuts a slow sender off within 1.25x.
  const checking = { requestTimeout: t.requestTimeoutMs, connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(t.requestTimeoutMs / 4))) };
  return {
    requestTimeout: t.requestTimeoutMs,
    connectionTimeout: t.idleTimeoutMs,
    keepAliveTimeout: t.keepAliveTimeoutMs,
    ...(tls ? { https: { ...tls, ...checking } } : { http: checking }),
  };
}
