// The typed client of the public API, used by the CLI, workers, tests and benchmarks. It takes a
// list of managers; on a connection error or a 503 it tries the next one (after a short backoff
// once all were tried), with the same idempotency key, so a retry across a leader change is safe.
// A 429 (over the caller's write budget) is retried on the same manager after its Retry-After.
// A follower's answer names the leader (a leader hint): the client then goes there directly.
import { randomUUID } from 'node:crypto';
import { Agent, request, type buildConnector } from 'undici';
import type { Assignment, Assignments, HeartbeatAnswer, HeartbeatBody, NodeInfo, NodeRecord, NodeRegistration, NodeRemoved, RegisterAnswer } from '../api/nodes.js';
import type { ServiceView, ServiceWithTasks } from '../api/services.js';
import type { Task, TaskListQuery } from '../api/tasks.js';
import { LEADER_HINT, WRITE_OUTCOME, type WriteOutcome } from '../api/headers.js';
import { isNodeAddress } from '../api/address.js';
import type { ClusterInfo, ClusterSettings, ClusterSettingsPatch, ManagerAdded, ManagerRemoved } from '../api/cluster.js';
import type { ErrorBody } from '../api/errors.js';
import type { KvDeleted, KvItem } from '../api/kv.js';
import type { ApiTokenInfo, ApiTokenRevoked, ApiTokenSecret, JoinRole, JoinToken, RenewAnswer } from '../api/tokens.js';
import type { ServiceSpec } from '../spec/index.js';

export type { ApiTokenInfo, ApiTokenSecret, ClusterInfo, ClusterSettings, KvItem };
export type { ManagerInfo } from '../api/cluster.js';

/** An error the API answered: its status, and the ErrorBody's code, message and details. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  /** Total time to keep retrying an unavailable cluster. */
  deadlineMs?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** A TLS cluster: connect over HTTPS with this connector (it pins the CA, may present a certificate). */
  tlsConnect?: buildConnector.connector;
  /** The API token, sent as a bearer token. */
  token?: string;
  /**
   * tlsConnect completes a connection only to a server holding a manager certificate of this
   * cluster (the CLI's does): then a leader hint naming a manager outside `managers` is safe to
   * follow, since the token is sent only after that proof. Without it, only listed managers are.
   */
  managersProvenByTls?: boolean;
}

/** A client learns at most this many managers from leader hints (a cluster has 3, 5 or 7). */
const MAX_MANAGERS = 16;

type Method = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

const RETRYABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_SOCKET', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);

/** Retry-After in seconds (or an HTTP date), as milliseconds to wait: at least 50, 1 s when unreadable. */
function retryAfterMs(h: string | string[] | undefined): number {
  const v = Array.isArray(h) ? h[0] : h;
  if (v === undefined) return 1000;
  const s = Number(v);
  const ms = Number.isFinite(s) ? s * 1000 : Date.parse(v) - Date.now();
  return Number.isFinite(ms) ? Math.max(50, ms) : 1000;
}

export class OrchClient {
  private preferred = 0;
  /** The managers' addresses as the cluster last gave them (setManagers). */
  private readonly given = new Set<string>();
  private readonly agent: Agent;
  private readonly deadlineMs: number;
  private readonly timeoutMs: number;
  private readonly scheme: 'http' | 'https';
  private readonly apiToken: string | undefined;
  private readonly managersProvenByTls: boolean;

  constructor(
    readonly managers: string[],
    opts: ClientOptions = {},
  ) {
    if (managers.length === 0) throw new Error('no manager address given (use --manager host:port or ORCH_MANAGER)');
    this.deadlineMs = opts.deadlineMs ?? 15_000;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.scheme = opts.tlsConnect ? 'https' : 'http';
    this.apiToken = opts.token;
    this.managersProvenByTls = opts.tlsConnect !== undefined && opts.managersProvenByTls === true;
    this.agent = new Agent({ keepAliveTimeout: 10_000, connections: 128, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, connect: opts.tlsConnect ?? { timeout: 1_000 } });
  }

  async call<T>(method: Method, path: string, body?: unknown, idempotencyKey?: string): Promise<T> {
    return (await this.exchange<T>(method, path, body, idempotencyKey)).body;
  }

  /**
   * The index of the manager a leader hint names, or -1: only a manager this client was given or
   * the cluster gave it (setManagers), by its exact address. A follower (or whoever can add a
   * header) must not send the client's token to an address of its choosing.
   */
  private hinted(h: string | string[] | undefined): number {
    if (typeof h !== 'string' || h.length > 261) return -1;
    const k = this.managers.indexOf(h);
    if (k >= 0 || !this.managersProvenByTls || !isNodeAddress(h) || this.managers.length >= MAX_MANAGERS) return k;
    return this.managers.push(h) - 1;
  }

  /** `call`, with the answer's status and headers. */
  private async exchange<T>(method: Method, path: string, body?: unknown, idempotencyKey?: string): Promise<{ body: T; status: number; headers: Record<string, string | string[] | undefined> }> {
    const key = method === 'GET' ? undefined : (idempotencyKey ?? randomUUID());
    const deadline = Date.now() + this.deadlineMs;
    let last: Error = new Error('no manager answered');
    let k = this.preferred;
    for (let attempt = 0; ; attempt++) {
      k %= this.managers.length;
      const addr = this.managers[k];
      let hint = -1;
      try {
        const headers: Record<string, string> = {};
        if (body !== undefined) headers['content-type'] = 'application/json';
        if (key) headers['idempotency-key'] = key;
        if (this.apiToken) headers.authorization = `Bearer ${this.apiToken}`;
        const res = await request(`${this.scheme}://${addr}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          dispatcher: this.agent,
        });
        const text = await res.body.text();
        const json = text.length ? (JSON.parse(text) as unknown) : null;
        hint = this.hinted(res.headers[LEADER_HINT]);
        if (res.statusCode < 300) {
          this.preferred = hint >= 0 ? hint : k;
          return { body: json as T, status: res.statusCode, headers: res.headers };
        }
        // A proxy or an older manager may answer something else: each field is checked before use.
        const e = (json as Partial<ErrorBody> | null)?.error as Partial<ErrorBody['error']> | undefined;
        const failed = new ApiRequestError(res.statusCode, e?.code ?? `http-${res.statusCode}`, e?.message ?? `HTTP ${res.statusCode} from ${addr}`, e?.details);
        if (res.statusCode === 429) {
          // Over this caller's write budget: wait as told and ask the same manager again, if the
          // deadline allows (another manager keeps its own count; hopping would only spread the load).
          const waitMs = retryAfterMs(res.headers['retry-after']);
          if (Date.now() + waitMs >= deadline) throw failed;
          await new Promise((r) => setTimeout(r, waitMs));
          attempt--;
          continue;
        }
        throw failed;
      } catch (err) {
        if (err instanceof ApiRequestError) {
          if (err.status !== 503) throw err;
          last = err; // unavailable here: try the next manager
        } else {
          const code = (err as { code?: string }).code;
          const msg = `${addr}: ${(err as Error).message}`;
          if (!code || !RETRYABLE_CODES.has(code)) throw new Error(this.scheme === 'http' && code === 'UND_ERR_SOCKET' ? `${msg} (a TLS cluster? pass --token or set ORCH_TOKEN)` : msg);
          last = new Error(msg);
        }
      }
      if (Date.now() >= deadline) throw last;
      // After every manager was tried once, wait a little: an election takes about a second.
      if ((attempt + 1) % this.managers.length === 0) await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** Math.floor(attempt / this.managers.length), 400)));
      // Unavailable here: the leader this manager named, else the next one.
      k = hint >= 0 && hint !== k ? hint : k + 1;
    }
  }

  kvPut(key: string, value: string, opts: { cas?: number; idempotencyKey?: string } = {}): Promise<KvItem> {
    const q = opts.cas === undefined ? '' : `?cas=${opts.cas}`;
    return this.call('PUT', `/v1/kv/${encodeKey(key)}${q}`, { value }, opts.idempotencyKey);
  }

  kvGet(key: string, opts: { stale?: boolean } = {}): Promise<KvItem> {
    return this.call('GET', `/v1/kv/${encodeKey(key)}${opts.stale ? '?stale=true' : ''}`);
  }

  kvDelete(key: string, opts: { cas?: number; idempotencyKey?: string } = {}): Promise<KvDeleted> {
    const q = opts.cas === undefined ? '' : `?cas=${opts.cas}`;
    return this.call('DELETE', `/v1/kv/${encodeKey(key)}${q}`, undefined, opts.idempotencyKey);
  }

  kvList(prefix = '', opts: { stale?: boolean } = {}): Promise<KvItem[]> {
    const q = new URLSearchParams();
    if (prefix) q.set('prefix', prefix);
    if (opts.stale) q.set('stale', 'true');
    const s = q.toString();
    return this.call('GET', `/v1/kv${s ? '?' + s : ''}`);
  }

  createService(spec: unknown, idempotencyKey?: string): Promise<ServiceView> {
    return this.call('POST', '/v1/services', spec, idempotencyKey);
  }

  /** Creates or updates the service from `spec`, and says which the write did (or that it changed nothing). */
  async applyService(spec: unknown, idempotencyKey?: string): Promise<{ service: ServiceView; outcome: WriteOutcome }> {
    const r = await this.exchange<ServiceView>('POST', '/v1/services', spec, idempotencyKey);
    const h = r.headers[WRITE_OUTCOME];
    if (h === 'created' || h === 'updated' || h === 'unchanged') return { service: r.body, outcome: h };
    // A manager of an earlier version says only whether it created the service.
    return { service: r.body, outcome: r.status === 201 ? 'created' : 'updated' };
  }

  services(): Promise<ServiceView[]> {
    return this.call('GET', '/v1/services');
  }

  service(idOrName: string): Promise<ServiceWithTasks> {
    return this.call('GET', `/v1/services/${encodeURIComponent(idOrName)}`);
  }

  /** The service and its counts (running, desired...), without its task list: cheap to poll. */
  serviceSummary(idOrName: string): Promise<ServiceView> {
    return this.call('GET', `/v1/services/${encodeURIComponent(idOrName)}?tasks=false`);
  }

  /**
   * The summary once the cluster state has moved past `index` (from an earlier answer; null: at
   * once), or after `waitMs`: a blocking read. Also returns the index this answer is as of.
   */
  async serviceSummaryAfter(idOrName: string, index: number | null, waitMs: number): Promise<{ service: ServiceView; index: number }> {
    // Well inside the answer's own timeout, which a blocked read must not run into.
    const wait = Math.floor(Math.max(0, Math.min(30_000, this.timeoutMs / 2, waitMs)));
    const block = index === null || index < 0 ? '' : `&index=${index}&wait=${wait}`;
    const r = await this.exchange<ServiceView>('GET', `/v1/services/${encodeURIComponent(idOrName)}?tasks=false${block}`);
    const at = Number(r.headers['x-orch-index']);
    // A manager of an earlier version sends no index: then every read is a plain one.
    return { service: r.body, index: Number.isSafeInteger(at) ? at : -1 };
  }

  patchService(idOrName: string, patch: Record<string, unknown>, idempotencyKey?: string): Promise<ServiceView> {
    return this.call('PATCH', `/v1/services/${encodeURIComponent(idOrName)}`, patch, idempotencyKey);
  }

  rollbackService(idOrName: string, idempotencyKey?: string): Promise<ServiceView> {
    return this.call('POST', `/v1/services/${encodeURIComponent(idOrName)}/rollback`, undefined, idempotencyKey);
  }

  setNodeAvailability(idOrName: string, availability: NodeRecord['availability'], idempotencyKey?: string): Promise<NodeRecord> {
    return this.call('PATCH', `/v1/nodes/${encodeURIComponent(idOrName)}`, { availability }, idempotencyKey);
  }

  stopService(idOrName: string, idempotencyKey?: string): Promise<ServiceView> {
    return this.call('DELETE', `/v1/services/${encodeURIComponent(idOrName)}`, undefined, idempotencyKey);
  }

  tasks(filter: Omit<TaskListQuery, 'stale'> = {}): Promise<Task[]> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined && v !== false) q.set(k, String(v));
    const s = q.toString();
    return this.call('GET', `/v1/tasks${s ? '?' + s : ''}`);
  }

  task(id: string): Promise<Task> {
    return this.call('GET', `/v1/tasks/${encodeURIComponent(id)}`);
  }

  stopTask(id: string, idempotencyKey?: string): Promise<Task> {
    return this.call('DELETE', `/v1/tasks/${encodeURIComponent(id)}`, undefined, idempotencyKey);
  }

  nodes(): Promise<NodeInfo[]> {
    return this.call('GET', '/v1/nodes');
  }

  // `session`: the worker agent's session id, which tells two agents of one node apart.
  registerNode(node: NodeRegistration, session?: string): Promise<RegisterAnswer> {
    return this.call('POST', `/v1/nodes/register${session ? `?session=${session}` : ''}`, node);
  }

  heartbeat(nodeId: string, body: HeartbeatBody, session?: string): Promise<HeartbeatAnswer> {
    return this.call('POST', `/v1/nodes/${nodeId}/heartbeat${session ? `?session=${session}` : ''}`, body);
  }

  assignments(nodeId: string, since: number, waitMs: number, session?: string): Promise<Assignments> {
    return this.call('GET', `/v1/nodes/${nodeId}/assignments?since=${since}&wait=${waitMs}${session ? `&session=${session}` : ''}`);
  }

  token(role: JoinRole, rotate = false): Promise<JoinToken> {
    return rotate ? this.call('POST', `/v1/tokens/${role}/rotate`) : this.call('GET', `/v1/tokens/${role}`);
  }

  /** Makes a named API token; its secret is in this answer only. */
  createApiToken(name: string, role: 'admin' | 'readonly' = 'readonly'): Promise<ApiTokenSecret> {
    return this.call('POST', '/v1/tokens/api', { name, role });
  }

  /** The API tokens: names, roles and dates, never their secrets. */
  apiTokens(): Promise<ApiTokenInfo[]> {
    return this.call('GET', '/v1/tokens/api');
  }

  /** Gives the token a new secret (in this answer only); the old one is refused from then on. */
  rotateApiToken(name: string): Promise<ApiTokenSecret> {
    return this.call('POST', `/v1/tokens/api/${encodeURIComponent(name)}/rotate`);
  }

  revokeApiToken(name: string): Promise<ApiTokenRevoked> {
    return this.call('DELETE', `/v1/tokens/api/${encodeURIComponent(name)}`);
  }

  removeNode(idOrName: string, force = false): Promise<NodeRemoved> {
    return this.call('DELETE', `/v1/nodes/${encodeURIComponent(idOrName)}${force ? '?force=true' : ''}`);
  }

  renewCertificate(csr: string): Promise<RenewAnswer> {
    return this.call('POST', '/v1/certs/renew', { csr });
  }

  /** Replaces the list of managers (a worker learns them all from the first it reached). */
  setManagers(list: string[]): void {
    if (list.length === 0) return;
    this.managers.splice(0, this.managers.length, ...list);
    this.given.clear();
    for (const a of list) this.given.add(a);
  }

  /** Whether the cluster named `address` as a manager's (not a person): its certificate must name it. */
  clusterGave(address: string): boolean {
    return this.given.has(address);
  }

  cluster(): Promise<ClusterInfo> {
    return this.call('GET', '/v1/cluster');
  }

  /** The cluster's policy settings (replicated: the same whichever manager leads). */
  clusterSettings(): Promise<ClusterSettings> {
    return this.call('GET', '/v1/cluster/settings');
  }

  /** Changes the cluster's policy settings (an admin token). */
  updateClusterSettings(patch: ClusterSettingsPatch, idempotencyKey?: string): Promise<ClusterSettings> {
    return this.call('PATCH', '/v1/cluster/settings', patch, idempotencyKey);
  }

  /** Adds a manager at `address` as a learner; the leader promotes it once it has caught up. */
  addManager(address: string): Promise<ManagerAdded> {
    return this.call('POST', '/v1/managers', { address });
  }

  /** Removes manager `id` from the cluster (the leader hands over first if it is the one). */
  removeManager(id: number): Promise<ManagerRemoved> {
    return this.call('DELETE', `/v1/managers/${id}`);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
