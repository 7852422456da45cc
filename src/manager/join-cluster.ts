// A new manager asks a running cluster to add it (POST /v1/managers, forwarded to the leader). The
// answer is its id (new, never used before), the cluster's id and every manager's address.
import { request, type Dispatcher } from 'undici';
import type { Identity } from './identity-store.js';
import type { ManagerAdded } from '../api/cluster.js';
import type { ErrorBody } from '../api/errors.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How to reach the managers: plain HTTP, or HTTPS presenting the certificate this manager just got. */
export interface JoinNet {
  url(address: string, path: string): string;
  dispatcher: Dispatcher | undefined;
}

const PLAIN: JoinNet = { url: (a, p) => `http://${a}${p}`, dispatcher: undefined };

export async function joinCluster(via: string, self: string, net: JoinNet = PLAIN, deadlineMs = 30_000): Promise<Identity> {
  const targets = via.split(',').map((a) => a.trim()).filter(Boolean);
  const deadline = Date.now() + deadlineMs;
  let last = '';
  for (let k = 0; Date.now() < deadline; k++) {
    const target = targets[k % targets.length];
    try {
      const res = await request(net.url(target, '/v1/managers'), {
        dispatcher: net.dispatcher,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ address: self }),
        headersTimeout: 20_000,
        bodyTimeout: 20_000,
      });
      const body = (await res.body.json()) as ManagerAdded & Partial<ErrorBody>;
      if (res.statusCode === 200) return { id: body.id, address: self, clusterId: body.clusterId, joined: body.managers };
      last = `${target}: ${body.error?.code ?? res.statusCode}: ${body.error?.message ?? ''}`;
      // 4xx: the request itself is wrong (address in use, bad address); retrying will not help.
      if (res.statusCode < 500) throw new Error(`--join: the cluster refused to add ${self}: ${last}`);
    } catch (err) {
      if ((err as Error).message.startsWith('--join:')) throw err;
      last = `${target}: ${(err as Error).message}`;
    }
    await sleep(250);
  }
  throw new Error(`--join: could not join through ${via} within ${deadlineMs / 1000} s (last: ${last})`);
}
