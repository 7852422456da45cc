// /v1/kv: the replicated key/value store. Keys may contain slashes (config/app/port); values are
// strings; versions are log indexes; ?cas=VERSION makes a write conditional (0: only if absent).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { KvCasQuery, KvDeleted, KvItem, KvKeyParams, KvListQuery, KvPutBody, StaleQuery } from '../../api/kv.js';
import type { ManagerContext } from '../context.js';
import type { KvResult } from '../state/kv.js';
import { ApiError } from './errors.js';
import { forwardIfFollower, propose, readBarrier } from './consensus.js';

function failed(res: Exclude<KvResult, { ok: true }> | { ok: false; code: 'idempotency-key-reused'; key: string }): ApiError {
  if (res.code === 'idempotency-key-reused') {
    return new ApiError(422, 'idempotency-key-reused', 'this Idempotency-Key was already used for a different request (by this caller); use a fresh key for a new request');
  }
  if (res.code === 'cas-mismatch') {
    return new ApiError(409, 'cas-mismatch', `key ${res.key}: expected version ${res.expected}, the current version is ${res.actual}`, { key: res.key, expected: res.expected, actual: res.actual });
  }
  return new ApiError(404, 'not-found', `key ${res.key} does not exist`);
}

export const kvRoutes: FastifyPluginAsyncTypebox<{ ctx: ManagerContext }> = async (app, { ctx }) => {
  app.put(
    '/v1/kv/*',
    { config: { access: 'admin' }, schema: { params: KvKeyParams, querystring: KvCasQuery, body: KvPutBody, response: { 200: KvItem } } },
    async (req, reply) => {
      if (await forwardIfFollower(ctx, req, reply)) return reply;
      const res = (await propose(ctx, req, { op: 'kv.put', key: req.params['*'], value: req.body.value, cas: req.query.cas })) as KvResult;
      if (!res.ok) throw failed(res);
      if (!('item' in res)) throw new Error('a put answered a delete');
      return res.item;
    },
  );

  app.delete('/v1/kv/*', { config: { access: 'admin' }, schema: { params: KvKeyParams, querystring: KvCasQuery, response: { 200: KvDeleted } } }, async (req, reply) => {
    if (await forwardIfFollower(ctx, req, reply)) return reply;
    const res = (await propose(ctx, req, { op: 'kv.delete', key: req.params['*'], cas: req.query.cas })) as KvResult;
    if (!res.ok) throw failed(res);
    if ('item' in res) throw new Error('a delete answered a put');
    return { key: res.key, deleted: true as const, version: res.version };
  });

  app.get('/v1/kv/*', { config: { access: 'read' }, schema: { params: KvKeyParams, querystring: StaleQuery, response: { 200: KvItem } } }, async (req) => {
    await readBarrier(ctx, req.query.stale === true);
    const item = ctx.state.kv.get(req.params['*']);
    if (!item) throw new ApiError(404, 'not-found', `key ${req.params['*']} does not exist`);
    return item;
  });

  app.get('/v1/kv', { config: { access: 'read' }, schema: { querystring: KvListQuery, response: { 200: Type.Array(KvItem) } } }, async (req) => {
    await readBarrier(ctx, req.query.stale === true);
    return ctx.state.kv.list(req.query.prefix ?? '');
  });
};
