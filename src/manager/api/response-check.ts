// Checks every JSON answer against the response schema its route declares, exactly: a field the
// schema lacks is an error here, where fastify's serializer would silently drop it, and a missing
// or mistyped one is an error too. On in the test suite (ORCH_CHECK_RESPONSES=1, set by `npm test`),
// so every answer a test provokes proves the contract in src/api; off in production, where the
// serializer alone shapes the answer.
import { Ajv, type ValidateFunction } from 'ajv';
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.js';

export const CHECK_RESPONSES_ENV = 'ORCH_CHECK_RESPONSES';

const ajv = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: true, strict: false });

/** The schema with every object that does not say otherwise closed to properties it does not name. */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'properties' || k === 'patternProperties' || k === '$defs' ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, closed(s)])) : closed(v);
  if (out.type === 'object' && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/** The validator for a status code among a route's response schemas ('201', '2xx', 'default'). */
function pick(validators: Map<string, ValidateFunction>, status: number): ValidateFunction | undefined {
  return validators.get(String(status)) ?? validators.get(`${String(status)[0]}xx`) ?? validators.get('default');
}

export function installResponseCheck(app: FastifyInstance): void {
  const byRoute = new Map<string, Map<string, ValidateFunction>>();
  app.addHook('onRoute', (route) => {
    const response = route.schema?.response as Record<string, unknown> | undefined;
    if (!response) return;
    const validators = new Map<string, ValidateFunction>();
    for (const [status, schema] of Object.entries(response)) validators.set(status, ajv.compile(closed(schema) as object));
    for (const method of [route.method].flat()) byRoute.set(`${method} ${route.url}`, validators);
  });
  app.addHook('preSerialization', async (req, reply, payload) => {
    const validators = byRoute.get(`${req.method} ${req.routeOptions.url}`);
    const check = validators && pick(validators, reply.statusCode);
    if (!check || check(payload)) return payload;
    const why = (check.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`).join('; ');
    throw new ApiError(500, 'response-mismatch', `the answer of ${req.method} ${req.routeOptions.url} (${reply.statusCode}) does not match its schema: ${why}`);
  });
}
