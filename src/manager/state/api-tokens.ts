// The cluster's API tokens as the replicated state keeps them: by name, with their role and the
// SHA-256 of their secret (the secret itself is shown once, to whoever created or rotated the
// token, and kept nowhere). Earlier states and snapshots kept two bare lists of hashes; they are
// read into named tokens (admin, admin-2, ..., readonly, readonly-2, ...).

export type ApiRole = 'admin' | 'readonly';
export const API_ROLES: readonly ApiRole[] = ['admin', 'readonly'];

export interface ApiToken {
  name: string;
  role: ApiRole;
  /** SHA-256 (hex) of the token's secret. */
  hash: string;
  createdAt: number;
  /** When the secret was last replaced (absent: never). */
  rotatedAt?: number;
}

/** Token names: lower-case letters, digits and dashes, as in a command line, up to 64. */
export const TOKEN_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

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
export function normalizeApiTokens(api: unknown, createdAt: number): ApiToken[] {
  if (Array.isArray(api)) return api as ApiToken[];
  const old = (api ?? {}) as LegacyApi;
  const out: ApiToken[] = [];
  for (const role of API_ROLES) {
    (old[role] ?? []).forEach((hash, k) => out.push({ name: k === 0 ? role : `${role}-${k + 1}`, role, hash, createdAt }));
  }
  return out;
}
