// A node's TLS material on its own disk, under <data-dir>/tls (0700, every file 0600 like the rest
// of the data dir, see data-dir.ts):
// ca.pem, node.pem, node-key.pem, and on managers secrets.json (the CA key and token secrets,
// which every manager holds, as Swarm's managers hold the root CA key). Files are checked on
// load: a half-written or foreign set stops start-up with what is wrong and how to recover.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterSecrets } from '../api/tokens.js';
import { normalizeSecrets } from './secrets.js';
import { certificateStatus } from './identity.js';
import type { TlsMaterial } from './tls.js';

export interface LocalTls {
  material: TlsMaterial;
  /** Managers only. */
  secrets: ClusterSecrets | null;
  /** A manager's certificate that expired while it was down: it renews it with the CA key it holds. */
  expired?: boolean;
}

const FILES = { ca: 'ca.pem', cert: 'node.pem', key: 'node-key.pem', secrets: 'secrets.json', cluster: 'cluster-id' } as const;

export function tlsDir(dataDir: string): string {
  return join(dataDir, 'tls');
}

export function hasLocalTls(dataDir: string): boolean {
  return existsSync(join(tlsDir(dataDir), FILES.cert));
}

function writeAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

export function saveLocalTls(dataDir: string, t: LocalTls): void {
  const dir = tlsDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  writeAtomic(join(dir, FILES.ca), t.material.caPem, 0o600);
  writeAtomic(join(dir, FILES.key), t.material.keyPem, 0o600);
  writeAtomic(join(dir, FILES.cluster), t.material.clusterId + '\n', 0o600);
  if (t.secrets) writeAtomic(join(dir, FILES.secrets), JSON.stringify(t.secrets), 0o600);
  // The certificate last: its presence is what says the set is complete.
  writeAtomic(join(dir, FILES.cert), t.material.certPem, 0o600);
}

export function loadLocalTls(dataDir: string): LocalTls {
  const dir = tlsDir(dataDir);
  const read = (name: string) => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch (err) {
      throw new Error(`${join(dir, name)}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); the TLS files of this data dir are incomplete: wipe the data dir and join again with a token`);
    }
  };
  const material: TlsMaterial = { caPem: read(FILES.ca), certPem: read(FILES.cert), keyPem: read(FILES.key), clusterId: read(FILES.cluster).trim() };
  let status: ReturnType<typeof certificateStatus>;
  try {
    status = certificateStatus(material.certPem, material.caPem, Date.now());
  } catch (err) {
    throw new Error(`${dir}: node.pem or ca.pem is not a valid PEM certificate (${(err as Error).message}); wipe the data dir and join again with a token`);
  }
  if (status === 'foreign') throw new Error(`${dir}: node.pem was not issued by ca.pem; wipe the data dir and join again with a token (orch token worker|manager prints one)`);
  // A manager holds the CA key and renews an expired certificate itself; a worker cannot.
  if (status === 'expired' && !existsSync(join(dir, FILES.secrets))) {
    throw new Error(`${dir}: node.pem has expired (this node was stopped longer than its certificate lives); wipe the data dir and join again with a token (orch token worker prints one)`);
  }
  let secrets: ClusterSecrets | null = null;
  if (existsSync(join(dir, FILES.secrets))) {
    try {
      secrets = JSON.parse(read(FILES.secrets)) as ClusterSecrets;
    } catch (err) {
      throw new Error(`${join(dir, FILES.secrets)}: not valid JSON (${(err as Error).message}); wipe the data dir and join again with a manager token`);
    }
    if (secrets.ca?.certPem !== material.caPem) throw new Error(`${join(dir, FILES.secrets)}: holds another CA than ca.pem; wipe the data dir and join again with a manager token`);
    // Written by an earlier version: the API tokens as two lists of hashes.
    secrets = normalizeSecrets(secrets);
  }
  return { material, secrets, ...(status === 'expired' ? { expired: true } : {}) };
}
