// The cluster's certificate authority: an ECDSA P-256 root made on a new cluster's first start,
// and node certificates it signs from certificate requests. Encoding is @peculiar/x509's (no
// hand-written ASN.1); keys come from node:crypto's WebCrypto. Subjects say who a node is:
// CN = its identity (a manager's address, a worker's node id), OU = its role, O = the cluster id.
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it loaded first
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto } from 'node:crypto';
import { CERT_BACKDATE_MS, type NodeSubject } from './identity.js';

export { fingerprint, issuedBy, subjectOf, subjectOfPem, validity, type NodeSubject, type Role } from './identity.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface KeyPair {
  /** PKCS#8 PEM. */
  keyPem: string;
  certPem: string;
}


async function exportKey(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key as webcrypto.CryptoKey), 'PRIVATE KEY');
}

async function importKey(keyPem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(keyPem)[0];
  if (!der) throw new Error('not a PEM private key');
  return (await webcrypto.subtle.importKey('pkcs8', der, ALG, false, ['sign'])) as unknown as CryptoKey;
}

const serial = () => '01' + randomBytes(15).toString('hex'); // positive, 128 bits of randomness

/** A new root CA for cluster `clusterId`, valid for `years`. */
export async function createCa(clusterId: string, years = 20): Promise<KeyPair> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=orch root CA, O=${clusterId}`,
    notBefore: new Date(now - CERT_BACKDATE_MS),
    notAfter: new Date(now + years * 365 * 86_400_000),
    keys,
    signingAlgorithm: ALG,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  return { keyPem: await exportKey(keys.privateKey), certPem: cert.toString('pem') };
}

/** A new key and a certificate request for it (the key never leaves the node that made it). */
export async function createRequest(cn: string): Promise<{ keyPem: string; csrPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${escapeDn(cn)}`, keys, signingAlgorithm: ALG });
  return { keyPem: await exportKey(keys.privateKey), csrPem: csr.toString('pem') };
}

/** Characters a subject's values may hold (a node id, an address, a cluster id): nothing to escape. */
const DN_SAFE = /^[A-Za-z0-9._:\-[\]]{1,253}$/;
function escapeDn(v: string): string {
  if (!DN_SAFE.test(v)) throw new Error(`not a valid certificate name: ${JSON.stringify(v.slice(0, 80))}`);
  return v;
}

/**
 * Signs a certificate request with the CA: the subject is what the CA decides (`subject`), not
 * what the request asked for; only its public key is taken, after checking its signature.
 */
export async function signRequest(ca: KeyPair, csrPem: string, subject: NodeSubject, ttlMs: number): Promise<string> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new Error(`the certificate request is not a PEM PKCS#10 request: ${(err as Error).message}`);
  }
  let verified: boolean;
  try {
    verified = await csr.verify();
  } catch (err) {
    throw new Error(`the certificate request's key or signature cannot be read: ${(err as Error).message}`);
  }
  if (!verified) throw new Error('the certificate request\'s signature does not verify');
  const alg = csr.publicKey.algorithm as EcKeyAlgorithm;
  if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') throw new Error(`the certificate request's key must be ECDSA P-256, not ${alg.name} ${alg.namedCurve ?? ''}`);
  const caCert = new x509.X509Certificate(ca.certPem);
  const now = Date.now();
  const notAfter = Math.min(now + ttlMs, caCert.notAfter.getTime());
  const sans: x509.JsonGeneralName[] = [];
  if (subject.role === 'manager') {
    const host = subject.cn.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    sans.push(/^[\d.]+$/.test(host) || host.includes(':') ? { type: 'ip', value: host } : { type: 'dns', value: host });
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${escapeDn(subject.cn)}, OU=${subject.role}, O=${escapeDn(subject.clusterId)}`,
    issuer: caCert.subject,
    notBefore: new Date(now - CERT_BACKDATE_MS),
    notAfter: new Date(notAfter),
    signingKey: await importKey(ca.keyPem),
    publicKey: csr.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      ...(sans.length ? [new x509.SubjectAlternativeNameExtension(sans)] : []),
    ],
  });
  return cert.toString('pem');
}

/** A node certificate for a key this process made itself (a manager holds the CA key). */
export async function issue(ca: KeyPair, subject: NodeSubject, ttlMs: number): Promise<KeyPair> {
  const req = await createRequest(subject.cn);
  return { keyPem: req.keyPem, certPem: await signRequest(ca, req.csrPem, subject, ttlMs) };
}
