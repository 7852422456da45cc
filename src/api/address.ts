// Shared by every layer (CLI flags, worker, manager): it imports nothing.
// Addresses as orch takes them: host:port. What a node says about itself (a worker's registered
// address) is checked against the exact shape, since managers make URLs of it.

/** A hostname (RFC 1123 labels), an IPv4 address, or an IPv6 address in brackets; then a port. */
const ADDRESS = /^((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?))*|\[[0-9a-fA-F:.]{2,45}\]):(\d{1,5})$/;

/** host:port, with a port in range; the error names the flag and the value. */
export function parseAddress(flag: string, value: string): { host: string; port: number } {
  const m = ADDRESS.exec(value.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535 || value.trim().length > 261) throw new Error(`${flag}: expected host:port (e.g. 127.0.0.1:7001), got ${JSON.stringify(value.slice(0, 300))}`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

/** Whether `value` is exactly host:port (no spaces, path, query, fragment or credentials). */
export function isNodeAddress(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > 261) return false;
  const m = ADDRESS.exec(value);
  const port = m ? Number(m[2]) : 0;
  return port >= 1 && port <= 65535;
}

/** The address a node with no server of its own registers (a simulated node): it resolves nowhere. */
export const NO_SERVER_ADDRESS = 'no-server.invalid:1';
