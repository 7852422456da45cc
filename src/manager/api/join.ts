// Joining: the CA certificate (open: a joiner pins it by its token's digest), joining with a join
// token (a signed certificate for the joiner's key; a manager also gets the cluster's secrets), and
// renewing a node's certificate. Apart from tokens.ts because these are how a node gets and keeps
// its certificate (open or member access, the CA key at work), not tokens an admin manages.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { CaAnswer, JoinAnswer, JoinBody, RenewAnswer, RenewBody } from '../../api/tokens.js';
import type { ManagerContext, ManagerSecurity } from '../context.js';
import { fingerprint } from '../../security/identity.js';
import { parseToken, sameSecret } from '../../security/tokens.js';
import { ApiError } from './errors.js';
import { parseAddress } from '../../api/address.js';

export const joinRoutes: FastifyPluginAsyncTypebox<{ ctx: ManagerContext }> = async (app, { ctx }) => {
  const need = (): ManagerSecurity => {
    if (!ctx.security) throw new ApiError(409, 'insecure', 'this cluster runs with --insecure: it has no CA, no join tokens and no API tokens');
    return ctx.security;
  };
  const sign = async (sec: ManagerSecurity, pem: string, subject: { cn: string; role: 'manager' | 'worker' }) => {
    // Loaded on first use: the X.509 library costs start-up time that --insecure managers need not pay.
    const { signRequest } = await import('../../security/pki.js');
    try {
      return await signRequest(sec.secrets().ca, pem, { ...subject, clusterId: sec.tls.material.clusterId }, sec.certTtlMs);
    } catch (err) {
      throw new ApiError(400, 'bad-csr', (err as Error).message);
    }
  };

  app.get('/v1/ca', { config: { access: 'open' }, schema: { response: { 200: CaAnswer } } }, async () => {
    const sec = need();
    return { ca: sec.secrets().ca.certPem, clusterId: sec.tls.material.clusterId };
  });

  app.post(
    '/v1/join',
    // Open: the token in the body is what grants it.
    { config: { access: 'open' }, schema: { body: JoinBody, response: { 200: JoinAnswer } } },
    async (req) => {
      const sec = need();
      const secrets = sec.secrets();
      const { role, name } = req.body;
      let token;
      try {
        token = parseToken('token', req.body.token);
      } catch (err) {
        throw new ApiError(401, 'bad-token', (err as Error).message);
      }
      if (token.caDigest !== fingerprint(secrets.ca.certPem)) throw new ApiError(401, 'wrong-cluster', 'the token names another cluster\'s CA');
      if (!sameSecret(token.secret, secrets.join[role])) {
        throw new ApiError(401, 'bad-token', `the token is not this cluster's ${role} join token (it may have been rotated: "orch token ${role}" shows the current one)`);
      }
      if (role === 'manager') {
        // A manager of --peers, or one that will join at run time (orch manager --join): the manager
        // token is what grants it. Its name is the address its certificate is valid for.
        try {
          parseAddress('name', name);
        } catch (err) {
          throw new ApiError(400, 'bad-address', `a manager joins under its address (host:port): ${(err as Error).message}`);
        }
        const certPem = await sign(sec, req.body.csr, { cn: name, role });
        req.log.info(`manager ${name} joined with a manager token`);
        return { certPem, caPem: secrets.ca.certPem, clusterId: sec.tls.material.clusterId, secrets };
      }
      if (!/^[a-f0-9]{12}$/.test(name)) throw new ApiError(400, 'bad-node-id', `a worker joins with its 12-hex-digit node id, not ${JSON.stringify(name.slice(0, 40))}`);
      if (ctx.state.cluster.removedNodes.has(name)) throw new ApiError(403, 'revoked', `node ${name} was removed from the cluster; wipe its data dir to join as a new node`);
      // Any node of the cluster, down or not: a node joins once, and its certificate stays in its
      // data dir. Signing another one for an existing id would hand that node's identity (its tasks,
      // its reports) to whoever holds the worker token; a down node may be rebooting.
      const existing = ctx.state.cluster.nodes.get(name);
      if (existing) {
        throw new ApiError(409, 'node-id-in-use', `node ${name} (${existing.name}, ${existing.status}) is already in the cluster; a node joins only once (its certificate is in its data dir). To join this machine as a new node, wipe its data dir: it then joins under a new id`);
      }
      const certPem = await sign(sec, req.body.csr, { cn: name, role });
      req.log.info(`worker ${name} joined with a worker token`);
      return { certPem, caPem: secrets.ca.certPem, clusterId: sec.tls.material.clusterId };
    },
  );

  app.post(
    '/v1/certs/renew',
    { config: { access: 'member' }, schema: { body: RenewBody, response: { 200: RenewAnswer } } },
    async (req) => {
      const sec = need();
      const peer = req.orchPeer;
      if (!peer) throw new ApiError(401, 'unauthenticated', 'renewal needs the current certificate');
      return { certPem: await sign(sec, req.body.csr, { cn: peer.cn, role: peer.role }) };
    },
  );
};
