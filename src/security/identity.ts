// What a certificate says, read with node:crypto alone (no X.509 library loaded): its digest, who it
// names, its dates, its issuer. The CLI and the --insecure paths need only this.
import { createHash, X509Certificate } from 'node:crypto';

export type Role = 'manager' | 'worker';

/** Certificates are valid from a minute before they are issued (clocks differ a little). */
export const CERT_BACKDATE_MS = 60_000;

/** When a certificate was issued, from its notBefore (as node's TLS gives it, `valid_from`). */
export function issuedAtOf(validFrom: string): number {
  return Date.parse(validFrom) + CERT_BACKDATE_MS;
}

export interface NodeSubject {
  /** A manager's address, or a worker's node id. */
  cn: string;
  role: Role;
  clusterId: string;
}

/** SHA-256 of a certificate's DER, hex: what a join token carries to pin the CA. */
export function fingerprint(certPem: string): string {
  return createHash('sha256').update(new X509Certificate(certPem).raw).digest('hex');
}

/** Who a certificate names, read from its subject (as node's TLS hands a peer's subject over). */
export function subjectOf(s: { CN?: string | string[]; OU?: string | string[]; O?: string | string[] } | undefined): NodeSubject | null {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? undefined : v);
  const cn = one(s?.CN);
  const role = one(s?.OU);
  const clusterId = one(s?.O);
  if (!cn || !clusterId || (role !== 'manager' && role !== 'worker')) return null;
  return { cn, role, clusterId };
}

/** Validity of a PEM certificate, for renewal. */
export function validity(certPem: string): { notBefore: number; notAfter: number } {
  const c = new X509Certificate(certPem);
  return { notBefore: Date.parse(c.validFrom), notAfter: Date.parse(c.validTo) };
}

/** Whether `certPem` was signed by the CA `caPem` (and is within its dates). */
export function issuedBy(certPem: string, caPem: string, now = Date.now()): boolean {
  const c = new X509Certificate(certPem);
  const ca = new X509Certificate(caPem);
  return c.checkIssued(ca) && c.verify(ca.publicKey) && Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo);
}

/** Whether `certPem` is `caPem`'s and valid now, signed by it but out of its dates, or not its at all. */
export function certificateStatus(certPem: string, caPem: string, now = Date.now()): 'valid' | 'expired' | 'foreign' {
  const c = new X509Certificate(certPem);
  const ca = new X509Certificate(caPem);
  if (!c.checkIssued(ca) || !c.verify(ca.publicKey)) return 'foreign';
  return Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo) ? 'valid' : 'expired';
}

/** Who a PEM certificate names. */
export function subjectOfPem(certPem: string): NodeSubject | null {
  const fields: Record<string, string> = {};
  for (const line of new X509Certificate(certPem).subject.split('\n')) {
    const k = line.indexOf('=');
    if (k > 0) fields[line.slice(0, k)] = line.slice(k + 1);
  }
  return subjectOf(fields);
}
