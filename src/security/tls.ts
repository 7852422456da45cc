// A node's TLS identity at the edges: its certificate and key, the cluster CA, and what to give
// to fastify's HTTPS server and to undici's client so that both sides present certificates and
// accept only the cluster's. Certificates are renewed in place: listeners (the server) are told,
// and a new client Agent replaces the old one (open connections finish on the old).
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { issuedAtOf, subjectOf, type NodeSubject, type Role } from './identity.js';

/**
 * Whom a client expects at the other end: a role, and for calls to a known peer its name (a
 * manager's address, a worker's node id). Membership of the cluster alone is not enough: a worker's
 * certificate must not pass for a manager's, nor one worker's for another's.
 */
export interface Expected {
  role: Role;
  /** Absent: any node of that role (a user-given address whose certificate name is not known). */
  cn?: string;
}

/** Why a server's certificate is not the one expected, or undefined when it is. */
export function checkPeer(host: string, subject: NodeSubject | null, clusterId: string | null, expect: Expected): Error | undefined {
  if (!subject) return new Error(`${host} presented a certificate of no orch node`);
  if (clusterId !== null && subject.clusterId !== clusterId) return new Error(`${host} presented a certificate of cluster ${subject.clusterId}, not of cluster ${clusterId}`);
  if (subject.role !== expect.role) return new Error(`${host} presented the certificate of ${subject.role} ${subject.cn}, not of a ${expect.role}`);
  if (expect.cn !== undefined && subject.cn !== expect.cn) return new Error(`${host} presented the certificate of ${subject.role} ${subject.cn}, not of ${expect.role} ${expect.cn}`);
  return undefined;
}

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
  clusterId: string;
}

/** Peers a node keeps a connection pool for at once. */
const MAX_AGENTS = 64;

export class TlsContext {
  /** Keep-alive clients by expected peer ("role:cn"), least recently used first. */
  private readonly agents = new Map<string, Agent>();
  /** The connector key each agent's connector caches under (see connector()), dropped with it. */
  private static builtKey(agentKey: string, timeoutMs = 2_000): string {
    return `${agentKey}:${timeoutMs}`;
  }
  private readonly built = new Map<string, { m: TlsMaterial; connect: buildConnector.connector }>();
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

  /**
   * TLS options for a client connection: our certificate, the cluster CA only, and a server that is
   * the node expected (the cluster's names, not DNS's).
   */
  connectOptions(expect: Expected): { ca: string; cert: string; key: string; checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined } {
    const clusterId = this.m.clusterId;
    return {
      ca: this.m.caPem,
      cert: this.m.certPem,
      key: this.m.keyPem,
      checkServerIdentity: (host, cert) => checkPeer(host, subjectOf(cert.subject as never), clusterId, expect),
    };
  }

  /**
   * An undici connector to the node expected, presenting the certificate current at connect time:
   * pools and agents made once keep working across renewals.
   */
  connector(expect: Expected, timeoutMs = 2_000): buildConnector.connector {
    const key = TlsContext.builtKey(`${expect.role}:${expect.cn ?? '*'}`, timeoutMs);
    return (opts, cb) => {
      let b = this.built.get(key);
      if (b?.m !== this.m) this.built.set(key, (b = { m: this.m, connect: buildConnector({ ...this.connectOptions(expect), timeout: timeoutMs }) }));
      return b.connect(opts, cb);
    };
  }

  /**
   * A connector for a client of the managers (a worker): a manager whose certificate names the
   * dialed host:port when the cluster gave that address (`given`), any manager of the cluster at an
   * address a person gave (--join), whose certificate may name it otherwise.
   */
  managerConnector(given: (address: string) => boolean, timeoutMs = 2_000): buildConnector.connector {
    return (opts, cb) => {
      const address = `${opts.hostname}:${opts.port}`;
      return this.connector(given(address) ? { role: 'manager', cn: address } : { role: 'manager' }, timeoutMs)(opts, cb);
    };
  }

  /**
   * A shared keep-alive client for calls to the node expected. Kept per peer (a manager relays logs
   * from many workers), the least recently used closed past a bound.
   */
  agentFor(expect: Expected): Agent {
    const key = `${expect.role}:${expect.cn ?? '*'}`;
    let a = this.agents.get(key);
    if (a) this.agents.delete(key);
    else {
      a = new Agent({ ...this.agentOptions, connect: this.connector(expect) });
      while (this.agents.size >= MAX_AGENTS) {
        const [oldest, agent] = this.agents.entries().next().value as [string, Agent];
        this.agents.delete(oldest);
        this.built.delete(TlsContext.builtKey(oldest));
        void agent.close().catch(() => undefined);
      }
    }
    this.agents.set(key, a);
    return a;
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
    const all = [...this.agents.values()];
    this.agents.clear();
    await Promise.allSettled(all.map((a) => a.close()));
  }
}

/** Who is at the other end of a request's TLS connection: a member of `clusterId`, or null. */
export function peerOf(socket: unknown, clusterId: string): NodeSubject | null {
  const subject = peerCertificateOf(socket)?.subject ?? null;
  return subject && subject.clusterId === clusterId ? subject : null;
}

/** A connection's client certificate, read once: it cannot change on a TLS 1.3 connection. */
const peers = new WeakMap<object, { subject: NodeSubject | null; issuedAt: number } | null>();

/** Who the client certificate of an authorized TLS connection names, and when it was issued (null: none). */
export function peerCertificateOf(socket: unknown): { subject: NodeSubject | null; issuedAt: number } | null {
  const s = socket as Partial<TLSSocket> | null;
  if (!s || typeof s.getPeerCertificate !== 'function' || !s.authorized) return null;
  let p = peers.get(s);
  if (p === undefined) {
    const cert = s.getPeerCertificate();
    const issuedAt = cert.valid_from ? issuedAtOf(cert.valid_from) : 0;
    p = { subject: subjectOf(cert.subject as never), issuedAt: Number.isFinite(issuedAt) ? issuedAt : 0 };
    peers.set(s, p);
  }
  return p;
}

/**
 * For a client that knows the CA but not yet the cluster id (the CLI, a joining node): the server
 * must show a manager's certificate, so a worker's certificate cannot pose as a manager.
 */
export function managerIdentity(host: string, cert: PeerCertificate): Error | undefined {
  return checkPeer(host, subjectOf(cert.subject as never), null, { role: 'manager' });
}
