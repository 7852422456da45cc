// /v1/kv: the replicated key/value store. Keys may contain slashes (config/app/port); values are
// strings; versions are log indexes; ?cas=VERSION makes a write conditional (0: only if absent).
import type { FastifyPluginAsync } from 'fastify';
import type { ManagerContext } from '../context.js';
import type { KvResult } from '../state/kv.js';
import { ApiError } from './errors.js';
import { forwardIfFollower, propose, readBarrier } from './consensus.js';

const KEY_PATTERN = '^[A-Za-z0-9._/-]{1,256}$';
const keyParams = {
  type: 'object',
  properties: { '*': { type: 'string', pattern: KEY_PATTERN } },
  required: ['*'],
} as const;
const casQuery = {
  type: 'object',
  properties: { cas: { type: 'integer', minimum: 0 } },
  additionalProperties: false,
} as const;
const staleQuery = {
  type: 'object',
  properties: { stale: { type: 'boolean' } },
  additionalProperties: false,
} as const;

type KeyParams = { '*': string };

function answer(res: KvResult | { ok: false; code: 'idempotency-key-reused'; key: string }): unknown {
  if (!res.ok && res.code === 'idempotency-key-reused') {
    throw new ApiError(422, 'idempotency-key-reused', 'this Idempotency-Key was already used for a different request (by this caller); use a fresh key for a new request');
  }
  if (!res.ok) {
    if (res.code === 'cas-mismatch') {
      throw new ApiError(409, 'cas-mismatch', `key ${res.key}: expected version ${res.expected}, the current version is ${res.actual}`, { key: res.key, expected: res.expected, actual: res.actual });
    }
    throw new ApiError(404, 'not-found', `key ${res.key} does not exist`);
  }
  return 'item' in res ? res.item : { key: res.key, deleted: true, version: res.version };
}

export const kvRoutes: FastifyPluginAsync<{ ctx: ManagerContext }> = async (app, { ctx }) => {
  app.put<{ Params: KeyParams; Querystring: { cas?: number }; Body: { value: string } }>(
    '/v1/kv/*',
    {
      schema: {
        params: keyParams,
        querystring: casQuery,
        body: {
          type: 'object',
          properties: { value: { type: 'string', maxLength: 1 << 20 } },
          required: ['value'],
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      if (await forwardIfFollower(ctx, req, reply)) return reply;
      const res = (await propose(ctx, req, { op: 'kv.put', key: req.params['*'], value: req.body.value, cas: req.query.cas })) as KvResult;
      return answer(res);
    },
  );

  app.delete<{ Params: KeyParams; Querystring: { cas?: number } }>('/v1/kv/*', { schema: { params: keyParams, querystring: casQuery } }, async (req, reply) => {
    if (await forwardIfFollower(ctx, req, reply)) return reply;
    return answer((await propose(ctx, req, { op: 'kv.delete', key: req.params['*'], cas: req.query.cas })) as KvResult);
  });

  app.get<{ Params: KeyParams; Querystring: { stale?: boolean } }>('/v1/kv/*', { schema: { params: keyParams, querystring: staleQuery } }, async (req) => {
    await readBarrier(ctx, req.query.stale === true);
    const item = ctx.state.kv.get(req.params['*']);
    if (!item) throw new ApiError(404, 'not-found', `key ${req.params['*']} does not exist`);
    return item;
  });

  app.get<{ Querystring: { prefix?: string; stale?: boolean } }>(
    '/v1/kv',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { prefix: { type: 'string', maxLength: 256 }, stale: { type: 'boolean' } },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      await readBarrier(ctx, req.query.stale === true);
      return ctx.state.kv.list(req.query.prefix ?? '');
    },
  );
};
