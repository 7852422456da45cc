// Who may call what. Raft routes take only the cluster's managers, the worker routes only workers
// (each as itself) or a manager forwarding for one, both proven by a client certificate from the
// cluster CA (mutual TLS). The public API takes a bearer token: read-only tokens may read, admin
// tokens may also write. A removed node's certificate is refused. With --insecure none of this is
// installed (plain HTTP on loopback, for development).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ManagerContext } from '../context.js';
import { fingerprint, type NodeSubject } from '../../security/identity.js';
import { peerOf } from '../../security/tls.js';
import { findByHash, parseToken } from '../../security/tokens.js';
import { ApiError } from './errors.js';

export type Access = 'open' | 'manager' | 'worker' | 'member' | 'read' | 'admin' | 'manager-cert';

/** Routes that are not the public API; every other route is read (GET) or admin (the rest). */
const ROUTES: Record<string, Access> = {
  'POST /raft/messages': 'manager',
  'POST /raft/snapshot': 'manager',
  'POST /raft/removed': 'manager',
  'GET /v1/ca': 'open',
  // The dashboard's page holds no data; it reads the API with the token the user gives it.
  'GET /ui': 'open',
  'GET /': 'open',
  'POST /v1/join': 'open',
  // A manager joining at run time: its certificate (got with the manager join token) lets it ask
  // to be added before its address is in the address book; an admin token may add one too.
  'POST /v1/managers': 'manager-cert',
  'POST /v1/certs/renew': 'member',
  // Join tokens are secrets: admin only, though read with GET.
  'GET /v1/tokens/:role': 'admin',
  // API tokens' names and roles: only those who may manage them may see them.
  'GET /v1/tokens/api': 'admin',
  'POST /v1/nodes/register': 'worker',
  'POST /v1/nodes/:id/heartbeat': 'worker',
  'GET /v1/nodes/:id/assignments': 'worker',
};

export function accessOf(method: string, route: string | undefined): Access {
  const a = route ? ROUTES[`${method} ${route}`] : undefined;
  return a ?? (method === 'GET' || method === 'HEAD' ? 'read' : 'admin');
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

/** Why a TLS client certificate was not accepted, in words. */
function certProblem(req: FastifyRequest): string {
  const s = req.raw.socket as { authorizationError?: Error | string; getPeerCertificate?: () => { subject?: unknown } };
  const cert = s.getPeerCertificate?.();
  if (!cert || !cert.subject) return 'no client certificate was presented';
  return `the client certificate was not issued by this cluster's CA (${String(s.authorizationError ?? 'unknown issuer')})`;
}

export function installAuth(app: FastifyInstance, ctx: ManagerContext): void {
  const sec = ctx.security;
  if (!sec) return;
  // Read per request: managers join and leave at run time.
  const isManagerName = (cn: string) => [...ctx.addresses.values()].includes(cn);
  // The CA never changes; its digest is computed once per certificate, not per request.
  let digestOf = { pem: '', digest: '' };
  const caDigest = () => {
    const pem = sec.secrets().ca.certPem;
    if (digestOf.pem !== pem) digestOf = { pem, digest: fingerprint(pem) };
    return digestOf.digest;
  };

  app.addHook('onRequest', async (req, reply) => {
    const access = accessOf(req.method, req.routeOptions.url);
    if (access === 'open') return;
    const peer = peerOf(req.raw.socket, sec.tls.material.clusterId);
    req.orchPeer = peer;
    if (peer) req.orchCaller = { kind: peer.role, id: peer.cn };
    if (peer && peer.role === 'worker' && ctx.state.cluster.removedNodes.has(peer.cn)) {
      throw new ApiError(403, 'revoked', `node ${peer.cn} was removed from the cluster; its certificate is revoked (join again with a token, as a new node)`);
    }
    // A manager of this cluster may call anything (it forwards requests and reads peers' status).
    if (peer?.role === 'manager' && isManagerName(peer.cn)) return;
    if (access === 'manager-cert' && peer?.role === 'manager') return;
    if (access === 'manager') {
      throw new ApiError(403, 'not-a-manager', `only the managers of this cluster may call ${req.method} ${req.routeOptions.url}: ${peer ? `${peer.role} ${peer.cn} is not one` : certProblem(req)}`);
    }
    if (access === 'worker' || access === 'member') {
      if (peer) return;
      throw new ApiError(403, 'not-a-member', `${req.method} ${req.routeOptions.url} takes requests from nodes of this cluster only: ${certProblem(req)}; a worker joins with --token`);
    }
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
    const match = findByHash(token.secret, sec.secrets().api);
    if (match) {
      req.orchCaller = { kind: 'token', role: match.role, id: match.name };
      if (match.role === 'admin' || access === 'read') return;
      throw new ApiError(403, 'read-only-token', `a read-only token cannot ${req.method} ${req.routeOptions.url ?? req.url} (this one is named ${match.name}); use an admin token`);
    }
    throw unauthenticated('the token is not one of this cluster\'s API tokens');
  });

  // A worker acts only as itself: the node id in the path or body must be its certificate's.
  app.addHook('preHandler', async (req) => {
    if (accessOf(req.method, req.routeOptions.url) !== 'worker') return;
    const peer = req.orchPeer;
    if (!peer || peer.role !== 'worker') return; // a manager forwarding for a worker
    const id = (req.params as { id?: string } | undefined)?.id ?? (req.body as { id?: string } | undefined)?.id;
    if (id !== peer.cn) throw new ApiError(403, 'wrong-node', `this certificate is node ${peer.cn}'s; it cannot act as node ${String(id)}`);
  });
}
