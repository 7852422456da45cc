// The joining side of a token: find the cluster's CA on first contact and pin it by the digest in
// the token (a server that shows another CA is refused), then ask for a certificate for a key made
// here. Used by `orch worker --token`, `orch manager --token`, and by the CLI to pin the CA from
// an API token.
import { Agent, request } from 'undici';
import type { ErrorBody } from '../api/errors.js';
import type { CaAnswer, JoinAnswer } from '../api/tokens.js';
import { fingerprint } from './identity.js';
import { parseToken } from './tokens.js';
import { managerIdentity } from './tls.js';

export class JoinRefused extends Error {}

const insecureAgent = () => new Agent({ connect: { rejectUnauthorized: false, timeout: 2_000 }, headersTimeout: 5_000, bodyTimeout: 5_000 });

/**
 * The CA certificate of the manager at `address`, checked against the token's digest. The fetch
 * itself trusts nothing; what it returns is trusted only because its hash is the token's.
 */
export async function pinnedCa(address: string, token: string, what = '--token'): Promise<string> {
  const t = parseToken(what, token);
  const agent = insecureAgent();
  try {
    const res = await request(`https://${address}/v1/ca`, { dispatcher: agent });
    const body = (await res.body.json().catch(() => null)) as Partial<Record<keyof CaAnswer, unknown>> | null;
    if (res.statusCode !== 200 || typeof body?.ca !== 'string') throw new Error(`${address}: GET /v1/ca answered ${res.statusCode}, not a CA certificate`);
    let digest: string;
    try {
      digest = fingerprint(body.ca);
    } catch {
      throw new Error(`${address}: GET /v1/ca did not return a PEM certificate`);
    }
    if (digest !== t.caDigest) throw new JoinRefused(`${address} presents CA ${digest.slice(0, 12)}…, not the CA ${t.caDigest.slice(0, 12)}… that the token names: a manager of another cluster, or someone in between; check the address and the token`);
    return body.ca;
  } finally {
    await agent.close();
  }
}

/**
 * Tries each address until one signs our request. A refusal (a wrong token, an address that is no
 * manager of the cluster) stops at once; an unreachable or not-yet-ready manager is retried until
 * `deadlineMs`, since managers of a new cluster start together.
 */
export async function joinCluster(addresses: string[], token: string, body: Record<string, unknown>, opts: { deadlineMs?: number; log?: (m: string) => void; what?: string } = {}): Promise<JoinAnswer> {
  const deadline = Date.now() + (opts.deadlineMs ?? 60_000);
  parseToken(opts.what ?? '--token', token);
  const said = new Set<string>();
  for (let round = 0; ; round++) {
    for (const address of addresses) {
      try {
        const caPem = await pinnedCa(address, token, opts.what);
        const agent = new Agent({ connect: { ca: caPem, checkServerIdentity: managerIdentity, timeout: 2_000 }, headersTimeout: 10_000, bodyTimeout: 10_000 });
        try {
          const res = await request(`https://${address}/v1/join`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, ...body }), dispatcher: agent });
          const answer = (await res.body.json().catch(() => null)) as (JoinAnswer & Partial<ErrorBody>) | null;
          if (res.statusCode === 200 && answer?.certPem) return answer;
          const why = answer?.error ? `${answer.error.message} (${answer.error.code})` : `HTTP ${res.statusCode}`;
          if (res.statusCode >= 400 && res.statusCode < 500) throw new JoinRefused(`${address} refused to let this node join: ${why}`);
          throw new Error(`${address}: ${why}`);
        } finally {
          await agent.close();
        }
      } catch (err) {
        if (err instanceof JoinRefused) throw err;
        const msg = `${address}: ${(err as Error).message}`;
        if (!said.has(address)) opts.log?.(`cannot join through ${msg}; retrying`);
        said.add(address);
      }
    }
    if (Date.now() >= deadline) throw new Error(`could not join the cluster through ${addresses.join(', ')} within ${Math.round((opts.deadlineMs ?? 60_000) / 1000)} s: no manager answered`);
    await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** round, 2_000)));
  }
}
