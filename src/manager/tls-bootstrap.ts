// How a manager gets its TLS identity. A new cluster's first manager (no data, no token) makes the
// CA, the join tokens and the API tokens, and prints the tokens once. The other managers start
// with --token (the manager join token) and get their certificate, and the cluster's secrets,
// from a manager that has them. On later starts the files in <data-dir>/tls are used. Managers
// hold the CA key, so each renews its own certificate before it expires.
import { randomBytes } from 'node:crypto';
import type { ClusterSecrets } from '../api/tokens.js';
import { normalizeSecrets } from '../security/secrets.js';
import { createCa, createRequest, fingerprint, issue, subjectOfPem, validity } from '../security/pki.js';
import { formatToken, hashSecret, newSecret } from '../security/tokens.js';
import { hasLocalTls, loadLocalTls, saveLocalTls } from '../security/local-store.js';
import { joinCluster } from '../security/join.js';
import { TlsContext } from '../security/tls.js';

export interface ManagerTls {
  tls: TlsContext;
  /** The cluster's secrets as this manager got them (the replicated state's copy wins once there). */
  local: ClusterSecrets;
  /** Set when this start created the cluster: the tokens, to be shown once. */
  created?: { admin: string; readonly: string; worker: string; manager: string; caDigest: string };
}

export interface BootstrapOptions {
  dataDir: string;
  self: string;
  peers: string[];
  /** The manager join token, for a manager joining an existing cluster. */
  token?: string;
  certTtlMs: number;
  /** Whether the data dir already holds a Raft log. */
  hasRaftData: boolean;
  log: (m: string) => void;
}

export async function bootstrapManagerTls(o: BootstrapOptions): Promise<ManagerTls> {
  if (hasLocalTls(o.dataDir)) {
    const { material, secrets, expired } = loadLocalTls(o.dataDir);
    if (!secrets) throw new Error(`${o.dataDir}/tls holds a worker's identity, not a manager's; use another --data-dir`);
    const cn = subjectOfPem(material.certPem)?.cn;
    if (cn !== o.self) throw new Error(`${o.dataDir}/tls: the certificate is for manager ${cn}, not ${o.self}; check --listen/--advertise, or use the data dir of ${o.self}`);
    if (!expired) return { tls: new TlsContext(material), local: secrets };
    // Stopped for longer than its certificate lives: a manager holds the CA key, and signs itself a new one.
    const node = await issue(secrets.ca, { cn: o.self, role: 'manager', clusterId: material.clusterId }, o.certTtlMs);
    const renewed = { ...material, certPem: node.certPem, keyPem: node.keyPem };
    saveLocalTls(o.dataDir, { material: renewed, secrets });
    o.log(`this manager's certificate expired while it was stopped; renewed with the cluster CA, it expires ${new Date(validity(node.certPem).notAfter).toISOString()}`);
    return { tls: new TlsContext(renewed), local: secrets };
  }
  if (o.hasRaftData) {
    throw new Error(`data dir ${o.dataDir} holds a cluster that was started with --insecure (no TLS files in ${o.dataDir}/tls); start it with --insecure again, or wipe the data dir to create a TLS cluster`);
  }
  if (o.token) {
    const req = await createRequest(o.self);
    const others = o.peers.filter((p) => p !== o.self);
    if (others.length === 0) throw new Error('--token: there is no other manager in --peers to join through');
    const answer = await joinCluster(others, o.token, { role: 'manager', csr: req.csrPem, name: o.self }, { log: o.log, deadlineMs: 120_000 });
    // A manager of an earlier version may send the tokens in their earlier form.
    const secrets = answer.secrets ? normalizeSecrets(answer.secrets as ClusterSecrets, Date.now()) : null;
    if (!secrets?.ca?.keyPem || secrets.ca.certPem !== answer.caPem) throw new Error('the manager that signed our certificate did not send the cluster\'s secrets');
    const material = { caPem: answer.caPem, certPem: answer.certPem, keyPem: req.keyPem, clusterId: answer.clusterId };
    saveLocalTls(o.dataDir, { material, secrets });
    o.log(`joined cluster ${answer.clusterId} as manager ${o.self}`);
    return { tls: new TlsContext(material), local: secrets };
  }
  // A new cluster.
  const clusterId = randomBytes(8).toString('hex');
  const ca = await createCa(clusterId);
  const admin = newSecret();
  const readonly = newSecret();
  const now = Date.now();
  const api = [
    { name: 'admin', role: 'admin' as const, hash: hashSecret(admin), createdAt: now },
    { name: 'readonly', role: 'readonly' as const, hash: hashSecret(readonly), createdAt: now },
  ];
  const secrets: ClusterSecrets = { clusterId, ca, join: { worker: newSecret(), manager: newSecret() }, api };
  const node = await issue(ca, { cn: o.self, role: 'manager', clusterId }, o.certTtlMs);
  const material = { caPem: ca.certPem, certPem: node.certPem, keyPem: node.keyPem, clusterId };
  saveLocalTls(o.dataDir, { material, secrets });
  const caDigest = fingerprint(ca.certPem);
  return {
    tls: new TlsContext(material),
    local: secrets,
    created: { caDigest, admin: formatToken(caDigest, admin), readonly: formatToken(caDigest, readonly), worker: formatToken(caDigest, secrets.join.worker), manager: formatToken(caDigest, secrets.join.manager) },
  };
}
