// What the services, tasks and nodes routes share: the state machine's answer to a command as an
// HTTP error, and a service looked up by id or name.
import type { ManagerContext } from '../context.js';
import type { ClusterResult, Service } from '../state/cluster-state.js';
import { ApiError } from './errors.js';

export function resultOf(res: ClusterResult): Extract<ClusterResult, { ok: true }> {
  if (res.ok) return res;
  if ((res.code as string) === 'idempotency-key-reused') throw new ApiError(422, 'idempotency-key-reused', 'this Idempotency-Key was already used for a different request (by this caller); use a fresh key for a new request');
  if (res.code === 'not-found') throw new ApiError(404, 'not-found', res.message);
  if (res.code === 'version-mismatch') throw new ApiError(409, 'version-mismatch', `${res.message}; the service changed meanwhile, retry`);
  throw new ApiError(400, res.code, res.message);
}

export function found(ctx: ManagerContext, idOrName: string): Service {
  const svc = ctx.state.cluster.findService(idOrName);
  if (!svc) throw new ApiError(404, 'not-found', `service ${idOrName} does not exist`);
  return svc;
}
