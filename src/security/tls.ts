// A node's TLS identity at the edges: its certificate and key, the cluster CA, and what to give
// to fastify's HTTPS server and to undici's client so that both sides present certificates and
// accept only the cluster's. Certificates are renewed in place: listeners (the server) are told,
// and a new client Agent replaces the old one (open connections finish on the old).
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { subjectOf, type NodeSubject } from './identity.js';

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
  clusterId: string;
}

export class TlsContext {
  private agentInstance: Agent | null = null;
  private built: { m: TlsMaterial; connect: buildConnector.connector } | null = null;
  private readonly listeners: ((m: TlsMaterial) => void)[] = [];

  constructor(
    private m: TlsMaterial,
    private readonly agentOptions: Agent.Options = {},
  ) {}

  get material(): TlsMaterial {
    return this.m;
  }

  /** What fastify's `https` option takes: ask every client for a certificate, decide per route. */
  serverOptions(): { key: string; cert: string; ca: string; requestCert: true; rejectUnauthorized: false } {
    return { key: this.m.keyPem, cert: this.m.certPem, ca: this.m.caPem, requestCert: true, rejectUnauthorized: false };
  }

  /** TLS options for a client connection: our certificate, the cluster CA only, the cluster's name. */
  connectOptions(): { ca: string; cert: string; key: string; checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined } {
    const clusterId = this.m.clusterId;
    return {
      ca: this.m.caPem,
      cert: this.m.certPem,
      key: this.m.keyPem,
      // The chain is checked against the cluster CA; names are the cluster's own, not DNS's.
      checkServerIdentity: (host, cert) => {
        const s = subjectOf(cert.subject as never);
        if (!s || s.clusterId !== clusterId) return new Error(`${host} presented a certificate of ${s ? `cluster ${s.clusterId}` : 'no orch node'}, not of cluster ${clusterId}`);
        return undefined;
      },
    };
  }

  /**
   * An undici connector that presents the certificate current at connect time: pools and agents
   * made once keep working across renewals.
   */
  connector(timeoutMs = 2_000): buildConnector.connector {
    return (opts, cb) => {
      if (this.built?.m !== this.m) this.built = { m: this.m, connect: buildConnector({ ...this.connectOptions(), timeout: timeoutMs }) };
      return this.built.connect(opts, cb);
    };
  }

  /** A shared keep-alive client that presents our certificate. */
  get agent(): Agent {
    this.agentInstance ??= new Agent({ ...this.agentOptions, connect: this.connector() });
    return this.agentInstance;
  }

  onChange(f: (m: TlsMaterial) => void): void {
    this.listeners.push(f);
  }

  /** A renewed certificate: new connections use it, and the server presents it from now on. */
  update(m: TlsMaterial): void {
    this.m = m;
    for (const f of this.listeners) f(m);
  }

  async close(): Promise<void> {
    await this.agentInstance?.close();
  }
}

/** Who is at the other end of a request's TLS connection: a member of `clusterId`, or null. */
export function peerOf(socket: unknown, clusterId: string): NodeSubject | null {
  const s = socket as Partial<TLSSocket> | null;
  if (!s || typeof s.getPeerCertificate !== 'function' || !s.authorized) return null;
  const subject = subjectOf(s.getPeerCertificate().subject as never);
  return subject && subject.clusterId === clusterId ? subject : null;
}

/**
 * For a client that knows the CA but not yet the cluster id (the CLI, a joining node): the server
 * must show a manager's certificate, so a worker's certificate cannot pose as a manager.
 */
export function managerIdentity(host: string, cert: PeerCertificate): Error | undefined {
  const s = subjectOf(cert.subject as never);
  return s?.role === 'manager' ? undefined : new Error(`${host} presented a certificate of ${s ? `${s.role} ${s.cn}` : 'no orch node'}, not of a manager`);
}
