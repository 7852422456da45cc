// One shape for every error the API answers: {"error": {"code", "message", "details"}}. Anything
// the caller got wrong is a 4xx naming what was wrong; a 5xx means the cluster could not answer.
import type { FastifyError, FastifyInstance } from 'fastify';
import type { ErrorBody } from '../../api/errors.js';

/** The body of every error answer (src/api/errors.ts). */
function errorBody(code: string, message: string, details: unknown = null): ErrorBody {
  return { error: { code, message, details } };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

interface ValidationItem {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** "body.replicas: must be integer" from Ajv's items, naming the field. */
function describeValidation(context: string | undefined, items: ValidationItem[]): string {
  return items
    .map((v) => {
      const extra = v.params && 'additionalProperty' in v.params ? ` (${String(v.params.additionalProperty)})` : '';
      const path = `${context ?? 'request'}${(v.instancePath ?? '').replace(/\//g, '.')}`;
      return `${path}: ${v.message ?? 'is invalid'}${extra}`;
    })
    .join('; ');
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
    if (err instanceof ApiError) {
      return reply.code(err.status).send(errorBody(err.code, err.message, err.details ?? null));
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      return reply.code(400).send(errorBody('bad-request', describeValidation(fe.validationContext, fe.validation as ValidationItem[]), fe.validation));
    }
    const status = fe.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send(errorBody(fe.code ? fe.code.toLowerCase().replace(/^fst_err_/, '').replace(/_/g, '-') : 'bad-request', fe.message));
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send(errorBody('internal', 'internal error: ' + fe.message));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(errorBody('no-route', `no route ${req.method} ${req.url.split('?')[0]}`));
  });
}
