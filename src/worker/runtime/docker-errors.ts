// What an error from dockerode says: the engine's HTTP status, and its message for a person.

export function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

export function reason(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return (e.json?.message ?? e.message ?? String(err)).trim();
}
