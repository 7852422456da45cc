import { OrchClient } from '../client/client.js';
import { resolveManagers } from './managers.js';

export interface ClientOpts {
  manager?: string;
  json?: boolean;
}

/** Runs f with a client for the managers the user named (or ORCH_MANAGER, or the cluster file). */
export async function withClient<T>(o: ClientOpts, f: (c: OrchClient) => Promise<T>): Promise<T> {
  const c = new OrchClient(resolveManagers(o.manager));
  try {
    return await f(c);
  } finally {
    await c.close();
  }
}
