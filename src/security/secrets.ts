// The cluster's secrets as a manager holds them (its CA, the join tokens' secrets, the named API
// tokens' hashes), and reading older forms of them. Here, not in the manager's state, because a
// node's own files (local-store.ts) hold them too. The shapes are the API's (src/api/tokens.ts):
// a joining manager receives them. Earlier states and snapshots kept the API tokens as two bare
// lists of hashes; they are read into named tokens (admin, admin-2, ..., readonly, readonly-2, ...).
import { TOKEN_NAME, type ApiRole, type ApiTokenRecord, type ClusterSecrets } from '../api/tokens.js';

export const API_ROLES: readonly ApiRole[] = ['admin', 'readonly'];

/** Why `name` cannot name a token, or null when it can. */
export function tokenNameProblem(name: string): string | null {
  return TOKEN_NAME.test(name) ? null : `a token name is 1 to 64 lower-case letters, digits and dashes, starting with a letter or digit; got ${JSON.stringify(name.slice(0, 80))}`;
}

/** The form before tokens had names. */
interface LegacyApi {
  admin?: string[];
  readonly?: string[];
}

/** The tokens of `api` as stored now, or as an earlier version stored them (two lists of hashes). */
export function normalizeApiTokens(api: unknown, createdAt: number): ApiTokenRecord[] {
  if (Array.isArray(api)) return api as ApiTokenRecord[];
  const old = (api ?? {}) as LegacyApi;
  const out: ApiTokenRecord[] = [];
  for (const role of API_ROLES) {
    (old[role] ?? []).forEach((hash, k) => out.push({ name: k === 0 ? role : `${role}-${k + 1}`, role, hash, createdAt }));
  }
  return out;
}

/** Secrets as a manager got them (the state, its own file, a peer), in the current form. */
export function normalizeSecrets(s: ClusterSecrets, createdAt = 0): ClusterSecrets {
  return { ...s, api: normalizeApiTokens(s.api as unknown, createdAt) };
}
