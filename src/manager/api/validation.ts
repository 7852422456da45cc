// Request validation: bodies are checked strictly (no type coercion, unknown fields refused, not
// silently dropped), while querystrings and path parameters, which arrive as text, are coerced to
// the declared types. Fastify's default would coerce and strip bodies too.
import { Ajv } from 'ajv';
import type { FastifyInstance, FastifySchema } from 'fastify';

const strict = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false, strict: false });
const coercing = new Ajv({ coerceTypes: true, removeAdditional: false, useDefaults: true, allErrors: false, strict: false });

/** A route that declares no query parameters refuses any: a misspelt one is an error, not ignored. */
const NO_QUERY = { type: 'object', properties: {}, additionalProperties: false } as const;

export function installValidation(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema as FastifySchema & object));
  app.addHook('onRoute', (route) => {
    if (route.schema?.querystring === undefined) route.schema = { ...route.schema, querystring: NO_QUERY };
  });
}
