// Loaded only for a TLS cluster (manager.ts imports it dynamically): it brings the X.509 library.
import { issue, validity } from '../../security/pki.js';
import { saveLocalTls } from '../../security/local-store.js';
import type { ManagerTls } from '../tls-bootstrap.js';
import type { IntervalDuty } from './runner.js';

/**
 * A duty of every manager (each holds the CA key and renews its own certificate): once two thirds of
 * the certificate's life are gone, a new one is issued, saved and served from then on. A failed
 * renewal is logged and tried again at the next interval.
 */
export function renewOwnCertificate(dataDir: string, self: string, t: ManagerTls, certTtlMs: number, log: (m: string) => void, everyMs = Math.min(3_600_000, Math.max(250, certTtlMs / 20))): IntervalDuty {
  return {
    name: 'certificate renewal',
    everyMs,
    run: () => {
      const m = t.tls.material;
      const v = validity(m.certPem);
      if (Date.now() < v.notBefore + ((v.notAfter - v.notBefore) * 2) / 3) return null;
      return issue(t.local.ca, { cn: self, role: 'manager', clusterId: m.clusterId }, certTtlMs)
        .then((node) => {
          const material = { ...m, certPem: node.certPem, keyPem: node.keyPem };
          saveLocalTls(dataDir, { material, secrets: t.local });
          t.tls.update(material);
          log(`renewed this manager's certificate; it expires ${new Date(validity(node.certPem).notAfter).toISOString()}`);
        })
        .catch((err: Error) => log(`certificate renewal failed: ${err.message}; retrying`));
    },
  };
}
