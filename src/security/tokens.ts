// Tokens, in the form Swarm made familiar (SWMTKN-1-<CA digest>-<secret>): ORCH-1-<sha256 of the
// CA certificate, hex>-<secret>. The digest lets whoever holds a token pin the cluster's CA on
// first contact; the secret is what the managers check. Join tokens (worker, manager) and API
// tokens (admin, read-only) share the form; the managers know which secret is which.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Token {
  caDigest: string;
  secret: string;
}

const FORM = /^ORCH-1-([0-9a-f]{64})-([0-9a-z]{32})$/;

export function newSecret(): string {
  return randomBytes(16).toString('hex');
}

export function formatToken(caDigest: string, secret: string): string {
  return `ORCH-1-${caDigest}-${secret}`;
}

/** Parses a token, or throws an error that says what is wrong with it (never echoing the secret). */
export function parseToken(what: string, s: string): Token {
  const m = FORM.exec(s.trim());
  if (!m) {
    const hint = s.startsWith('ORCH-1-') ? 'it is cut short or has stray characters' : 'it should start with ORCH-1-';
    throw new Error(`${what}: not an orch token (${hint}); expected ORCH-1-<64 hex digits>-<32 letters and digits>, as "orch token" prints`);
  }
  return { caDigest: m[1], secret: m[2] };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of two secrets (through their hashes, so lengths never leak). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** The entry whose hash `secret` hashes to, comparing every entry in constant time (no early exit). */
export function findByHash<T extends { hash: string }>(secret: string, entries: readonly T[]): T | undefined {
  const h = createHash('sha256').update(secret).digest();
  let found: T | undefined;
  for (const e of entries) if (e.hash.length === 64 && timingSafeEqual(h, Buffer.from(e.hash, 'hex'))) found = e;
  return found;
}

/** Whether `secret` hashes to one of `hashes`, in constant time per hash. */
export function matchesHash(secret: string, hashes: readonly string[]): boolean {
  const h = createHash('sha256').update(secret).digest();
  let found = false;
  for (const x of hashes) if (x.length === 64 && timingSafeEqual(h, Buffer.from(x, 'hex'))) found = true;
  return found;
}
