import { buildConnector } from 'undici';
import { OrchClient, type ClientOptions } from '../client/client.js';
import { pinnedCa } from '../security/join.js';
import { managerIdentity } from '../security/tls.js';
import { resolveManagers, resolveToken } from './managers.js';

export interface ClientOpts {
  manager?: string;
  token?: string;
  json?: boolean;
}

export interface Connection {
  managers: string[];
  token?: string;
  /** HTTPS to a TLS cluster, trusting only the CA that the token names. */
  tlsConnect?: buildConnector.connector;
}

/**
 * Where and how to reach the cluster: the managers, and with a token (--token, ORCH_TOKEN or the
 * cluster file) HTTPS pinned to the CA whose digest the token carries; without one, plain HTTP
 * (a cluster run with --insecure).
 */
export async function connection(o: ClientOpts): Promise<Connection> {
  const managers = resolveManagers(o.manager);
  const token = resolveToken(o.token);
  if (!token) return { managers };
  const errors: string[] = [];
  for (const m of managers) {
    try {
      const ca = await pinnedCa(m, token);
      return { managers, token, tlsConnect: buildConnector({ ca, checkServerIdentity: managerIdentity, timeout: 2_000 }) };
    } catch (err) {
      errors.push((err as Error).message);
      if (!/ECONNREFUSED|ETIMEDOUT|timeout|other side closed|socket/i.test((err as Error).message)) break;
    }
  }
  throw new Error(`cannot reach the cluster over TLS: ${errors.join('; ')}`);
}

/** A client over a connection (close it when done). */
export function clientOf(conn: Connection, opts: ClientOptions = {}): OrchClient {
  // The CLI's TLS connector accepts only this cluster's managers: it may follow any leader hint.
  return new OrchClient(conn.managers, { token: conn.token, tlsConnect: conn.tlsConnect, managersProvenByTls: conn.tlsConnect !== undefined, ...opts });
}

/** Runs f with a client for the managers the user named (or ORCH_MANAGER, or the cluster file). */
export async function withClient<T>(o: ClientOpts, f: (c: OrchClient) => Promise<T>, opts: ClientOptions = {}): Promise<T> {
  const c = clientOf(await connection(o), opts);
  try {
    return await f(c);
  } finally {
    await c.close();
  }
}
