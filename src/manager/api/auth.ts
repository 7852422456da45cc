// Who may call what. A certificate from the cluster CA proves membership; the route decides which
// role and which member may call it:
// - Raft routes: a manager of the current address book, as itself (the Raft sender is the manager
//   its certificate names, not a header).
// - Worker routes: a worker as itself, or a current manager forwarding a worker's request (it names
//   the worker it checked in x-orch-on-behalf-of; no one else may).
// - Member routes (certificate renewal): a worker, or a current manager.
// - A manager asking to be added: its own certificate, for its own address, or an admin token.
// - Everything else is the public API: bearer tokens only (read-only tokens read, admin tokens also
//   write). A manager certificate alone reads nothing there: join tokens and the CA key stay with
//   admins. A follower forwards the user's token, and the leader checks it again.
// Removed nodes' and removed managers' certificates are refused on every route.
// With --insecure none of this is installed (plain HTTP on loopback, for development).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ManagerContext } from '../context.js';
import { fingerprint, type NodeSubject } from '../../security/identity.js';
import { peerCertificateOf, peerOf } from '../../security/tls.js';
import { findByHash, parseToken } from '../../security/tokens.js';
import { isNodeAddress } from '../../api/address.js';
import { ApiError } from './errors.js';
import type { Caller } from './caller.js';

export type Access = 'open' | 'manager' | 'worker' | 'member' | 'read' | 'admin' | 'manager-cert' | 'peer-read';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route: declared by each route beside its schema. */
    access?: Access;
  }
}

/**
 * The route's declared access. A request that matched no route (it will be a 404) needs a token
 * all the same, read or admin by its method: which paths exist is not told to strangers.
 */
export function accessOf(req: FastifyRequest): Access {
  return req.routeOptions.config?.access ?? (req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'admin');
}

/** Every route says who may call it: one that does not is refused when it is registered, in every mode. */
export function requireDeclaredAccess(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const access = (route.config as { access?: Access } | undefined)?.access;
    if (!access) throw new Error(`route ${[route.method].flat().join(',')} ${route.url} declares no access (config: { access: ... })`);
  });
}

/** The header a manager forwarding a node's request names that node in: worker:ID or manager:ADDRESS. */
export const ON_BEHALF_OF = 'x-orch-on-behalf-of';

/** The value of ON_BEHALF_OF for a caller a manager forwards for, or null for token callers. */
export function onBehalfOf(c: Caller | undefined): string | null {
  return c && (c.kind === 'worker' || c.kind === 'manager') ? `${c.kind}:${c.id}` : null;
}

const NODE_ID = /^[a-f0-9]{12}$/;

function parseOnBehalfOf(v: unknown): Caller | null {
  if (typeof v !== 'string') return null;
  const k = v.indexOf(':');
  const kind = v.slice(0, k);
  const id = v.slice(k + 1);
  if (kind === 'worker' && NODE_ID.test(id)) return { kind, id };
  if (kind === 'manager' && isNodeAddress(id)) return { kind, id };
  return null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The cluster member at the other end of the TLS connection, if it showed a certificate. */
    orchPeer?: NodeSubject | null;
  }
}

function unauthenticated(message: string): ApiError {
  return new ApiError(401, 'unauthenticated', message);
}

interface PeerSocket {
  authorizationError?: Error | string;
  getPeerCertificate?: () => { subject?: unknown };
}

/** Why a TLS client certificate was not accepted, in words. */
function certProblem(req: FastifyRequest): string {
  const s = req.raw.socket as PeerSocket;
  const cert = s.getPeerCertificate?.();
  if (!cert || !cert.subject) return 'no client certificate was presented';
  return `the client certificate was not issued by this cluster's CA (${String(s.authorizationError ?? 'unknown issuer')})`;
}

function who(c: Caller | undefined): string {
  return !c || c.kind === 'anonymous' ? 'an anonymous caller' : c.kind === 'token' ? `a ${c.role} token` : `${c.kind} ${c.id}`;
}

export function installAuth(app: FastifyInstance, ctx: ManagerContext): void {
  const sec = ctx.security;
  if (!sec) return;
  // Read per request: managers join and leave at run time.
  const isCurrentManager = (address: string) => {
    for (const a of ctx.addresses.values()) if (a === address) return true;
    return false;
  };
  // The CA never changes; its digest is computed once per certificate, not per request.
  let digestOf = { pem: '', digest: '' };
  const caDigest = () => {
    const pem = sec.secrets().ca.certPem;
    if (digestOf.pem !== pem) digestOf = { pem, digest: fingerprint(pem) };
    return digestOf.digest;
  };

  /** A 403 for a certificate of a node or manager that was removed from the cluster. */
  function refuseRevoked(peer: NodeSubject, req: FastifyRequest): void {
    if (peer.role === 'worker' && ctx.state.cluster.removedNodes.has(peer.cn)) {
      throw new ApiError(403, 'revoked', `node ${peer.cn} was removed from the cluster; its certificate is revoked (join again with a token, as a new node)`);
    }
    if (peer.role === 'manager') {
      if (ctx.state.membership.revoked(peer.cn, peerCertificateOf(req.raw.socket)?.issuedAt ?? 0)) {
        throw new ApiError(403, 'revoked', `the manager at ${peer.cn} was removed from the cluster; this certificate of it is revoked (a new manager there joins with the manager token)`);
      }
    }
  }

  /** The bearer token's caller, or an error: 401 when absent or unknown. */
  function tokenCaller(req: FastifyRequest, reply: { header(k: string, v: string): unknown }): Caller {
    const header = req.headers.authorization;
    if (!header) {
      reply.header('www-authenticate', 'Bearer');
      throw unauthenticated('this API needs a token: pass --token or set ORCH_TOKEN (the admin and read-only tokens are printed when the cluster is created)');
    }
    const m = /^Bearer (\S+)$/.exec(header);
    if (!m) throw unauthenticated('the Authorization header must be "Bearer <token>"');
    let token;
    try {
      token = parseToken('the bearer token', m[1]);
    } catch (err) {
      throw unauthenticated((err as Error).message);
    }
    if (token.caDigest !== caDigest()) throw unauthenticated('the token belongs to another cluster (its CA digest is not this cluster\'s)');
    const match = findByHash(token.secret, sec!.secrets().api);
    if (match) return { kind: 'token', role: match.role, id: match.name };
    throw unauthenticated('the token is not one of this cluster\'s API tokens');
  }

  app.addHook('onRequest', async (req, reply) => {
    const access = accessOf(req);
    if (access === 'open') return;
    const route = `${req.method} ${req.routeOptions.url ?? req.url}`;
    const peer = peerOf(req.raw.socket, sec.tls.material.clusterId);
    req.orchPeer = peer;
    if (peer) refuseRevoked(peer, req);
    const fromManager = peer?.role === 'manager' && isCurrentManager(peer.cn);
    // A current manager forwarding a node's request vouches for the node it checked; nobody else can.
    const vouched = fromManager ? parseOnBehalfOf(req.headers[ON_BEHALF_OF]) : null;
    if (vouched?.kind === 'worker') refuseRevoked({ cn: vouched.id, role: 'worker', clusterId: peer!.clusterId }, req);
    const node: Caller | null = vouched ?? (peer ? { kind: peer.role, id: peer.cn } : null);
    if (node) req.orchCaller = node;
    switch (access) {
      case 'manager':
        if (fromManager && !vouched) return;
        throw new ApiError(403, 'not-a-manager', `only the managers of this cluster may call ${route}: ${peer ? (vouched ? 'a forwarded request cannot' : `${peer.role} ${peer.cn} is not one`) : certProblem(req)}`);
      case 'worker':
        if (node?.kind === 'worker') return;
        throw new ApiError(403, 'not-a-worker', `${route} takes requests from this cluster's workers only: ${node ? `${who(node)} is not one` : certProblem(req)}; a worker joins with --token`);
      case 'member':
        if (node?.kind === 'worker' || (node?.kind === 'manager' && isCurrentManager(node.id))) return;
        throw new ApiError(403, 'not-a-member', `${route} takes requests from nodes of this cluster only: ${node ? `${who(node)} is not a current member` : certProblem(req)}; a worker joins with --token`);
      case 'manager-cert':
        if (node?.kind === 'manager') return;
        break;
      case 'peer-read':
        if (fromManager && !vouched) return;
        break;
    }
    // The public API: the token decides, whatever certificate came with it.
    const caller = tokenCaller(req, reply);
    req.orchCaller = caller;
    if (caller.kind === 'token' && caller.role === 'readonly' && access !== 'read' && access !== 'peer-read') {
      throw new ApiError(403, 'read-only-token', `a read-only token cannot ${route} (this one is named ${caller.id}); use an admin token`);
    }
  });

  // A node acts only as itself: the node id in the path or body must be its certificate's (or the
  // one its forwarding manager vouched for); a manager asks to be added only at its own address.
  app.addHook('preHandler', async (req) => {
    const access = accessOf(req);
    const c = req.orchCaller;
    if (access === 'worker' && c?.kind === 'worker') {
      const id = (req.params as { id?: string } | undefined)?.id ?? (req.body as { id?: string } | undefined)?.id;
      if (id !== c.id) throw new ApiError(403, 'wrong-node', `this certificate is node ${c.id}'s; it cannot act as node ${String(id)}`);
    }
    if (access === 'manager-cert' && c?.kind === 'manager') {
      const address = (req.body as { address?: unknown } | undefined)?.address;
      if (address !== c.id) throw new ApiError(403, 'wrong-manager', `this certificate is the manager at ${c.id}'s; it cannot ask to add a manager at ${JSON.stringify(String(address).slice(0, 80))}`);
    }
  });
}
