// A worker's TLS identity: on first start it joins with the worker token (a certificate for its
// node id, signed by the cluster CA, for a key made here); later starts use <data-dir>/tls. The
// certificate is renewed through the managers once two thirds of its life are gone.
import type { OrchClient } from '../client/client.js';
import { joinCluster } from '../security/join.js';
import { hasLocalTls, loadLocalTls, saveLocalTls } from '../security/local-store.js';
import { createRequest, subjectOfPem, validity } from '../security/pki.js';
import { TlsContext } from '../security/tls.js';

export async function workerTls(o: { dataDir: string; nodeId: string; join: string[]; token?: string; log: (m: string) => void }): Promise<TlsContext> {
  if (hasLocalTls(o.dataDir)) {
    const { material, secrets } = loadLocalTls(o.dataDir);
    if (secrets) throw new Error(`${o.dataDir} is a manager's data dir; give the worker its own --data-dir`);
    const s = subjectOfPem(material.certPem);
    if (s?.cn !== o.nodeId || s.role !== 'worker') throw new Error(`${o.dataDir}/tls: the certificate is for ${s?.role} ${s?.cn}, not worker ${o.nodeId}; wipe the data dir and join again`);
    return new TlsContext(material);
  }
  if (!o.token) {
    throw new Error('this worker has no certificate yet: join with --token (the worker join token, "orch token worker" prints it), or, for a cluster run with --insecure, pass --insecure');
  }
  const req = await createRequest(o.nodeId);
  const answer = await joinCluster(o.join, o.token, { role: 'worker', csr: req.csrPem, name: o.nodeId }, { log: o.log, deadlineMs: 60_000 });
  const material = { caPem: answer.caPem, certPem: answer.certPem, keyPem: req.keyPem, clusterId: answer.clusterId };
  saveLocalTls(o.dataDir, { material, secrets: null });
  o.log(`joined cluster ${answer.clusterId} with the worker token; certificate in ${o.dataDir}/tls`);
  return new TlsContext(material);
}

/** Renews the worker's certificate through the managers before it expires. */
export function startWorkerRenewal(dataDir: string, tls: TlsContext, client: OrchClient, log: (m: string) => void): () => void {
  let busy = false;
  const v0 = validity(tls.material.certPem);
  const everyMs = Math.min(3_600_000, Math.max(250, (v0.notAfter - v0.notBefore) / 20));
  const timer = setInterval(() => {
    const m = tls.material;
    const v = validity(m.certPem);
    if (busy || Date.now() < v.notBefore + ((v.notAfter - v.notBefore) * 2) / 3) return;
    busy = true;
    (async () => {
      const s = subjectOfPem(m.certPem)!;
      const req = await createRequest(s.cn);
      const { certPem } = await client.renewCertificate(req.csrPem);
      const next = { ...m, certPem, keyPem: req.keyPem };
      saveLocalTls(dataDir, { material: next, secrets: null });
      tls.update(next);
      log(`renewed this node's certificate; it expires ${new Date(validity(certPem).notAfter).toISOString()}`);
    })()
      .catch((err: Error) => log(`certificate renewal failed: ${err.message}; retrying`))
      .finally(() => (busy = false));
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
