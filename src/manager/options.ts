// The manager's options and their checks, made before anything is opened or served: every bad
// flag is refused with its name and what was expected. Managers are numbered by their address's
// position in the sorted --peers list, so every manager derives the same ids from the same list.
import { createHash } from 'node:crypto';
import { parseAddress } from '../api/address.js';
import { PLACEMENT_STRATEGIES } from '../api/spec.js';
import type { NodeId } from '../raft/index.js';
import type { Strategy } from '../scheduler/index.js';

export interface ManagerOptions {
  listen: string;
  /** Every manager of a new cluster (this one included); empty with `join`. */
  peers: string[];
  /** Join a running cluster through these managers (comma-separated), as a learner first. */
  join?: string;
  dataDir: string;
  advertise?: string;
  heartbeatMs?: number;
  electionMs?: number;
  snapshotEvery?: number;
  keepEntries?: number;
  /** Heap trim (heap-trim.ts): no full collection below this many MiB of used heap; 0 turns it off. */
  heapTrimMib?: number;
  logLevel?: string;
  /** The workers' heartbeat period; a node missing `workerMissed` of them is down. */
  workerHeartbeatMs?: number;
  workerMissed?: number;
  /** The cluster's placement strategy; a service's spec may choose another. */
  scheduler?: Strategy;
  /** Fault injection for the chaos suite (PUT /chaos/faults); never for production. */
  chaos?: boolean;
  /**
   * Quorum lost for good: start this survivor as a new one-manager cluster from its own log (its
   * --peers must name only itself). Refused on a data dir with no cluster data.
   */
  forceNewCluster?: boolean;
  /** Let specs ask for privileged mode, extra capabilities and host paths. */
  allowPrivileged?: boolean;
  /** Plain HTTP and no authentication, on loopback only: for development and tests. */
  insecure?: boolean;
  /** The manager join token, to join an existing TLS cluster on first start. */
  token?: string;
  /** A new cluster writes its tokens here (mode 0600) besides printing them once. */
  tokensFile?: string;
  /** Lifetime of the node certificates this manager signs (default 90 days). */
  certTtlMs?: number;
  /** Where a new cluster's tokens are shown once (default: standard output). */
  announce?: (text: string) => void;
  /** This manager was removed from the cluster; it has stopped participating. */
  onRemoved?: () => void;
  /** Event streams this manager serves at once (default 256). */
  maxEventSubscribers?: number;
  /** Bytes an event stream's client may leave unread before further events wait in the log for it (default 1 MiB). */
  eventBufferBytes?: number;
  /** Writes a second one API token may make through this manager (default 10,000; 0: no limit). */
  rateLimitToken?: number;
  /** Writes a second one worker node may make through this manager (default 100; 0: no limit). */
  rateLimitNode?: number;
  /** A request (headers and body) must arrive within this many ms (default 30 s). */
  requestTimeoutMs?: number;
  /** A node `down` for this many ms is removed from the state by the leader (default 24 h; 0: never). */
  nodeRemoveAfterMs?: number;
  /**
   * A disk write failed or the state machine threw: the manager has logged one line naming the
   * error and stopped serving (fail-stop); the process should exit non-zero now, so that clients,
   * workers and a supervisor see it gone. Without it the manager just stays stopped.
   */
  onFatal?: (err: Error) => void;
}

export function validateManagerOptions(o: ManagerOptions): { self: string; peers: string[]; id: NodeId; clusterId: string } {
  parseAddress('--listen', o.listen);
  const self = o.advertise ?? o.listen;
  if (o.advertise) parseAddress('--advertise', o.advertise);
  const peers = [...new Set(o.peers.map((p) => p.trim()).filter(Boolean))];
  if (o.join !== undefined) {
    if (peers.length > 0) throw new Error('--join and --peers: give one; --peers starts a new cluster, --join joins a running one');
    const via = o.join.split(',').map((a) => a.trim()).filter(Boolean);
    if (via.length === 0) throw new Error('--join: give the address of a manager of the running cluster, e.g. 127.0.0.1:7001');
    for (const a of via) parseAddress('--join', a);
    if (o.forceNewCluster) throw new Error('--force-new-cluster and --join: a forced cluster starts from --peers');
    if (via.includes(self)) throw new Error(`--join: ${self} is this manager's own address; give another manager's`);
  } else if (peers.length === 0) throw new Error('--peers: give the addresses of all managers, e.g. 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 (or --join to join a running cluster)');
  for (const p of peers) parseAddress('--peers', p);
  peers.sort();
  const k = peers.indexOf(self);
  if (k < 0 && o.join === undefined) throw new Error(`--peers: this manager's address ${self} is not in the list (${peers.join(',')}); use --advertise if it differs from --listen`);
  for (const [flag, v, lo] of [
    ['--heartbeat-ms', o.heartbeatMs, 1],
    ['--election-ms', o.electionMs, 2],
    ['--snapshot-every', o.snapshotEvery, 1],
    ['--keep-entries', o.keepEntries, 0],
    ['--heap-trim-mib', o.heapTrimMib, 0],
    ['--max-event-subscribers', o.maxEventSubscribers, 1],
    ['--event-buffer (bytes)', o.eventBufferBytes, 65_536],
    ['--rate-limit-token', o.rateLimitToken, 0],
    ['--rate-limit-node', o.rateLimitNode, 0],
    ['--request-timeout (ms)', o.requestTimeoutMs, 100],
    ['--node-remove-after (ms)', o.nodeRemoveAfterMs, 0],
  ] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < lo)) throw new Error(`${flag}: expected an integer >= ${lo}, got ${v}`);
  }
  if (o.scheduler !== undefined && !(PLACEMENT_STRATEGIES as readonly string[]).includes(o.scheduler)) {
    throw new Error(`--scheduler: expected ${PLACEMENT_STRATEGIES.slice(0, -1).join(', ')} or ${PLACEMENT_STRATEGIES.at(-1)}, got ${JSON.stringify(o.scheduler)}`);
  }
  if (o.certTtlMs !== undefined && (!Number.isSafeInteger(o.certTtlMs) || o.certTtlMs < 1000)) throw new Error(`--cert-ttl-ms: expected an integer >= 1000, got ${o.certTtlMs}`);
  if (o.insecure) {
    for (const [flag, a] of [['--listen', o.listen], ['--advertise', self], ...peers.map((p) => ['--peers', p] as const)] as const) {
      if (!isLoopback(parseAddress(flag, a).host)) throw new Error(`${flag}: ${a} is not a loopback address; --insecure (plain HTTP, no authentication) is for loopback only`);
    }
    if (o.token) throw new Error('--token: a token joins a TLS cluster; drop --insecure, or drop --token');
    if (o.join !== undefined) for (const a of o.join.split(',').filter(Boolean)) if (!isLoopback(parseAddress('--join', a.trim()).host)) throw new Error(`--join: ${a} is not a loopback address; --insecure is for loopback only`);
  }
  if ((o.electionMs ?? 1000) <= (o.heartbeatMs ?? 100)) throw new Error(`--election-ms (${o.electionMs ?? 1000}) must be larger than --heartbeat-ms (${o.heartbeatMs ?? 100})`);
  const clusterId = createHash('sha256').update(peers.join(',')).digest('hex').slice(0, 16);
  return { self, peers, id: k + 1, clusterId };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
