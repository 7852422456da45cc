// The tokens: the join tokens (shown and rotated by admins; a worker or manager joins with one, see
// join.ts) and the named API tokens (admin only): create one by name and role, list them (names,
// roles and dates; never a secret or a hash), rotate one (a new secret; the old one is refused as
// soon as each manager applies the change) and revoke one. The proposing manager draws the secret,
// the log carries only its hash, and the secret is answered once, to the caller that asked.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { ApiTokenInfo, ApiTokenParams, ApiTokenRevoked, ApiTokenSecret, CreateApiTokenBody, JoinToken, JoinTokenParams, type JoinRole } from '../../api/tokens.js';
import type { ManagerContext, ManagerSecurity } from '../context.js';
import type { SecurityCommand, SecurityResult } from '../state/security-state.js';
import { fingerprint } from '../../security/identity.js';
import { formatToken, hashSecret, newSecret } from '../../security/tokens.js';
import { ApiError } from './errors.js';
import { forwardIfFollower, propose, readBarrier } from './consensus.js';

const STATUS: Record<string, number> = { 'not-initialized': 409, 'token-exists': 409, 'token-not-found': 404, 'bad-token-name': 400, 'last-admin-token': 409, 'idempotency-key-reused': 409 };

function secretNotShown(tokenName: string): ApiError {
  return new ApiError(409, 'secret-not-shown', `token ${tokenName} was made or rotated by an earlier attempt of this request, whose answer was lost; a secret is shown only once: rotate the token to get a new one`);
}

export const tokenRoutes: FastifyPluginAsyncTypebox<{ ctx: ManagerContext }> = async (app, { ctx }) => {
  const need = (): ManagerSecurity => {
    if (!ctx.security) throw new ApiError(409, 'insecure', 'this cluster runs with --insecure: it has no API tokens');
    return ctx.security;
  };
  const needJoin = (): ManagerSecurity => {
    if (!ctx.security) throw new ApiError(409, 'insecure', 'this cluster runs with --insecure: it has no CA, no join tokens and no API tokens');
    return ctx.security;
  };
  const joinToken = (role: JoinRole) => {
    const secrets = needJoin().secrets();
    return { role, token: formatToken(fingerprint(secrets.ca.certPem), secrets.join[role]) };
  };

  // Join tokens are secrets: admin only, though read with GET.
  app.get('/v1/tokens/:role', { config: { access: 'admin' }, schema: { params: JoinTokenParams, response: { 200: JoinToken } } }, async (req) => joinToken(req.params.role));

  app.post('/v1/tokens/:role/rotate', { config: { access: 'admin' }, schema: { params: JoinTokenParams, response: { 200: JoinToken } } }, async (req, reply) => {
    needJoin();
    if (await forwardIfFollower(ctx, req, reply)) return reply;
    const res = (await propose(ctx, req, { op: 'security.rotate', ts: Date.now(), role: req.params.role, secret: newSecret() })) as SecurityResult;
    if (!res.ok) throw new ApiError(409, res.code, res.message);
    return joinToken(req.params.role);
  });


  /** Proposes `cmd`; a refusal becomes an API error with the state's own words. */
  const change = async (req: FastifyRequest, cmd: SecurityCommand): Promise<void> => {
    const res = (await propose(ctx, req, cmd)) as SecurityResult | { ok: false; code: 'idempotency-key-reused' };
    if (res.ok) return;
    if ('message' in res) throw new ApiError(STATUS[res.code] ?? 409, res.code, res.message);
    // A retry (same Idempotency-Key) of an applied create or rotate drew another secret than the
    // first attempt, whose answer was lost: that secret is the one in force, and it is not kept.
    if (cmd.op === 'security.token.create' || cmd.op === 'security.token.rotate') throw secretNotShown(cmd.name);
    throw new ApiError(409, res.code, 'this Idempotency-Key was used by an earlier request that differs from this one');
  };

  /**
   * The new token, once the state holds its hash. A retry of a create or rotate whose first
   * attempt was applied draws another secret; that one is not the cluster's, and is never shown.
   */
  const issued = (sec: ManagerSecurity, tokenName: string, secret: string) => {
    const t = sec.secrets().api.find((x) => x.name === tokenName);
    if (!t || t.hash !== hashSecret(secret)) throw secretNotShown(tokenName);
    return { name: t.name, role: t.role, token: formatToken(fingerprint(sec.secrets().ca.certPem), secret) };
  };

  // API tokens' names and roles: only those who may manage them may see them.
  app.get('/v1/tokens/api', { config: { access: 'admin' }, schema: { response: { 200: Type.Array(ApiTokenInfo) } } }, async () => {
    const sec = need();
    await readBarrier(ctx, false);
    return sec.secrets().api.map((t) => ({ name: t.name, role: t.role, createdAt: new Date(t.createdAt).toISOString(), ...(t.rotatedAt ? { rotatedAt: new Date(t.rotatedAt).toISOString() } : {}) }));
  });

  app.post('/v1/tokens/api', { config: { access: 'admin' }, schema: { body: CreateApiTokenBody, response: { 201: ApiTokenSecret } } }, async (req, reply) => {
    const sec = need();
    if (await forwardIfFollower(ctx, req, reply)) return reply;
    const secret = newSecret();
    await change(req, { op: 'security.token.create', ts: Date.now(), name: req.body.name, role: req.body.role ?? 'readonly', hash: hashSecret(secret) });
    return reply.code(201).send(issued(sec, req.body.name, secret));
  });

  app.post('/v1/tokens/api/:name/rotate', { config: { access: 'admin' }, schema: { params: ApiTokenParams, response: { 200: ApiTokenSecret } } }, async (req, reply) => {
    const sec = need();
    if (await forwardIfFollower(ctx, req, reply)) return reply;
    const secret = newSecret();
    await change(req, { op: 'security.token.rotate', ts: Date.now(), name: req.params.name, hash: hashSecret(secret) });
    return issued(sec, req.params.name, secret);
  });

  app.delete('/v1/tokens/api/:name', { config: { access: 'admin' }, schema: { params: ApiTokenParams, response: { 200: ApiTokenRevoked } } }, async (req, reply) => {
    need();
    if (await forwardIfFollower(ctx, req, reply)) return reply;
    await change(req, { op: 'security.token.revoke', ts: Date.now(), name: req.params.name });
    return { name: req.params.name, revoked: true as const };
  });
};
