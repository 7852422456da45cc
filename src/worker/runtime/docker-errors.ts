// What an error from dockerode says: the engine's HTTP status, its message for a person, and whether
// the engine was not reached at all.

export function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

export function reason(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return (e.json?.message ?? e.message ?? String(err)).trim();
}

/** Socket errors of a dockerd that is down or restarting (a missing unix socket is ENOENT). */
const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

export function unreachable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return statusCode(err) === undefined && typeof code === 'string' && UNREACHABLE.has(code);
}
