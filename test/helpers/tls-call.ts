// One HTTPS request as an outsider makes it: trusting the cluster CA, presenting a client
// certificate if given, with a bearer token if given. For tests that try what an attacker would.
import { Agent, request } from 'undici';

export interface CallOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  token?: string;
  body?: unknown;
  /** A raw Raft frame (sent as application/octet-stream with the Raft headers below). */
  raw?: Buffer;
  headers?: Record<string, string>;
  cert?: { certPem: string; keyPem: string };
}

export interface CallResult {
  status: number;
  text: string;
  json: ({ error?: { code: string; message: string } } & Record<string, unknown>) | null;
}

export async function tlsCall(ca: string, address: string, path: string, o: CallOptions = {}): Promise<CallResult> {
  const agent = new Agent({ connect: { ca, checkServerIdentity: () => undefined, ...(o.cert ? { cert: o.cert.certPem, key: o.cert.keyPem } : {}) } });
  try {
    const headers: Record<string, string> = {};
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.raw) Object.assign(headers, { 'content-type': 'application/octet-stream', 'x-orch-cluster': 'x', 'x-orch-from': '1' });
    Object.assign(headers, o.headers ?? {});
    const res = await request(`https://${address}${path}`, { method: o.method ?? 'GET', headers, body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)), dispatcher: agent });
    const text = await res.body.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON (a log stream): the text says it.
    }
    return { status: res.statusCode, text, json };
  } finally {
    await agent.close();
  }
}
