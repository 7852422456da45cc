// The manager's replicated state machine: every committed entry is a JSON command, applied in log
// order on every manager. Commands carry an idempotency key; the results of recent keys are kept
// (in snapshots too), so a retry of an applied command returns the first result instead of acting
// twice — which is what makes a client's retry across a leader change safe.
import type { Entry, StateMachine } from '../../raft/index.js';
import { ClusterState, type ClusterCommand, type CompactClusterState } from './cluster-state.js';
import { readCluster } from './cluster/codec.js';
import { KvStore, type KvCommand, type KvResult } from './kv.js';
import { SecurityState, type SecurityCommand } from './security-state.js';
import { SettingsState, type SettingsCommand } from './settings-state.js';
import { MembershipState, type MembershipCommand } from './membership-state.js';
import { applyWithEvents } from './events.js';
import { EventLog } from './event-log.js';

/** A new leader announces itself in the log, so that the event stream has leader changes in order. */
export type LeaderCommand = { op: 'leader.elected'; ts: number; leader: number; term: number; address: string | null };

export type Command = KvCommand | ClusterCommand | SecurityCommand | LeaderCommand | MembershipCommand | SettingsCommand;
export type Envelope = Command & { id: string };

/** Idempotency keys remembered; at 5,000 writes/s this covers retries for about 20 s. */
export const MAX_REMEMBERED = 100_000;
/**
 * ...and the bytes they may take (as rememberedBytes counts them), whatever their keys: 100,000
 * remembered writes of a UUID key (about 110 counted bytes each) fit; as many of the longest keys
 * (128 characters in a caller's namespace, about 230) do not, and the oldest go first. The count is
 * close to their share of a snapshot (their JSON); in the heap each entry takes somewhat more.
 */
export const MAX_REMEMBERED_BYTES = 12 * 2 ** 20;
/** What a remembered entry costs besides its id and kept result: the map entry, fingerprint, index. */
const ENTRY_OVERHEAD = 48;

/**
 * What is remembered of an applied command, compactly (it is in every snapshot): a fingerprint of
 * the command, the index it was applied at, and its result only when it failed. A success is rebuilt
 * from the retried command and the index, which is all it consists of.
 */
interface Remembered {
  fp: number;
  index: number;
  /**
   * Kept for failures and for commands whose result cannot be rebuilt from the command; a service
   * in it is kept by its id only (see compact()).
   */
  failure: unknown;
  /** What it counts towards MAX_REMEMBERED_BYTES: computed from the above, so the same on every manager. */
  bytes: number;
}

/** The bytes an entry counts: its id and kept result as JSON text, plus the fixed overhead. */
function sizeOf(id: string, failure: unknown): number {
  return ENTRY_OVERHEAD + id.length + (failure === null ? 0 : JSON.stringify(failure).length);
}

/**
 * A result as it is remembered: a service in it (its whole spec, every version's) is kept by its id,
 * and a retry is answered with the service as it is then (retried() below). A retry's caller reads
 * the service's present state anyway (the API shows its live tasks beside it).
 */
function compact(result: unknown): unknown {
  if (result && typeof result === 'object' && 'service' in result) {
    const svc = (result as { service: unknown }).service;
    if (svc && typeof svc === 'object' && typeof (svc as { id?: unknown }).id === 'string') return { ...result, service: (svc as { id: string }).id };
  }
  return result;
}

/** FNV-1a over the command's fields: a retry must carry the same command as the first attempt. */
function fingerprint(c: Command): number {
  // What a retry repeats: not the timestamp or ids the proposer picked for each attempt.
  const s = c.op === 'kv.put' || c.op === 'kv.delete' ? `${c.op}\0${c.key}\0${'value' in c ? c.value : ''}\0${c.cas ?? ''}` : JSON.stringify({ ...c, id: '', ts: 0, serviceId: '' });
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function successOf(c: KvCommand, index: number): KvResult {
  return c.op === 'kv.put' ? { ok: true, item: { key: c.key, value: c.value, version: index } } : { ok: true, deleted: true, key: c.key, version: index };
}

export class ManagerState implements StateMachine {
  readonly kv = new KvStore();
  readonly cluster = new ClusterState();
  readonly security = new SecurityState();
  readonly membership = new MembershipState();
  /** Called after a manager was added or removed (the address book changed). */
  onMembershipChange: (() => void) | null = null;
  readonly events = new EventLog();
  /** The last leader that announced itself (leader.elected), and its term. */
  announced = { leader: 0, term: 0 };
  readonly settings = new SettingsState();
  private recent = new Map<string, Remembered>();
  /** The bytes the remembered keys count (sizeOf), at most MAX_REMEMBERED_BYTES. */
  rememberedBytes = 0;
  appliedIndex = 0;
  /** Told after every applied cluster command (the workers' long-polls, the reconciler). */
  private readonly clusterListeners = new Set<() => void>();

  /** Calls `f` after every applied cluster command and after a restore; returns the unsubscribe. */
  onClusterChange(f: () => void): () => void {
    this.clusterListeners.add(f);
    return () => this.clusterListeners.delete(f);
  }

  private clusterChanged(): void {
    for (const f of this.clusterListeners) f();
  }

  static encode(cmd: Envelope): Uint8Array {
    return Buffer.from(JSON.stringify(cmd));
  }

  apply(e: Entry): unknown {
    this.appliedIndex = e.index;
    let cmd: Envelope;
    try {
      cmd = JSON.parse(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString('utf8')) as Envelope;
    } catch {
      // Entries are validated before they are proposed; a bad one is skipped identically everywhere.
      return { ok: false, code: 'bad-command' };
    }
    const fp = fingerprint(cmd);
    const seen = this.recent.get(cmd.id);
    if (seen) {
      if (seen.fp !== fp) return { ok: false, code: 'idempotency-key-reused', key: cmd.id };
      if (seen.failure !== null) return this.retried(seen.failure);
      return successOf(cmd as KvCommand, seen.index);
    }
    switch (cmd.op) {
      case 'kv.put':
      case 'kv.delete': {
        const result = this.kv.apply(cmd, e.index);
        this.remember(cmd.id, fp, e.index, result.ok ? null : result);
        return result;
      }
      case 'service.upsert':
      case 'service.stop':
      case 'task.create':
      case 'task.shutdown':
      case 'node.register':
      case 'node.status':
      case 'task.assign':
      case 'task.report':
      case 'service.update':
      case 'task.remove':
      case 'node.remove':
      case 'node.availability': {
        // A copy, frozen as of now: the result must not follow later changes to the live objects
        // it names (a snapshot would otherwise carry a different history than the log).
        const { result, events } = applyWithEvents(this.cluster, cmd, () => structuredClone(this.cluster.apply(cmd)));
        if (events.length) this.events.add(e.index, cmd.ts, events);
        this.clusterChanged();
        // Results of cluster commands are kept: they hold what the proposer chose (ids); a service
        // in one is kept by its id (compact()).
        this.remember(cmd.id, fp, e.index, result);
        return result;
      }
      case 'leader.elected': {
        if (cmd.term > this.announced.term) {
          this.announced = { leader: cmd.leader, term: cmd.term };
          this.events.add(e.index, cmd.ts, [{ type: 'leader', id: cmd.leader, term: cmd.term, address: cmd.address }]);
        }
        return { ok: true };
      }
      case 'manager.add':
      case 'manager.remove': {
        const result = this.membership.apply(cmd);
        this.remember(cmd.id, fp, e.index, result);
        this.onMembershipChange?.();
        return result;
      }
      case 'settings.init':
      case 'settings.update': {
        const result = this.settings.apply(cmd);
        this.remember(cmd.id, fp, e.index, result);
        return result;
      }
      case 'security.init':
      case 'security.rotate':
      case 'security.token.create':
      case 'security.token.rotate':
      case 'security.token.revoke': {
        const result = this.security.apply(cmd);
        this.remember(cmd.id, fp, e.index, result);
        return result;
      }
      default:
        return { ok: false, code: 'bad-command' };
    }
  }

  /** A remembered result as a retry gets it: a service kept by its id is read from the state now. */
  private retried(kept: unknown): unknown {
    if (!kept || typeof kept !== 'object' || typeof (kept as { service?: unknown }).service !== 'string') return kept;
    const id = (kept as { service: string }).service;
    const svc = this.cluster.services.get(id);
    if (!svc) return { ok: false, code: 'not-found', message: `service ${id} does not exist any more` };
    return { ...kept, service: structuredClone(svc) };
  }

  private remember(id: string, fp: number, index: number, result: unknown): void {
    const failure = compact(result);
    const bytes = sizeOf(id, failure);
    const old = this.recent.get(id);
    if (old) this.rememberedBytes -= old.bytes;
    this.recent.set(id, { fp, index, failure, bytes });
    this.rememberedBytes += bytes;
    this.forgetOldest();
  }

  /** Forgets the oldest keys until both bounds hold (the same ones on every manager: log order). */
  private forgetOldest(): void {
    for (const [id, r] of this.recent) {
      if (this.recent.size <= MAX_REMEMBERED && this.rememberedBytes <= MAX_REMEMBERED_BYTES) return;
      this.recent.delete(id);
      this.rememberedBytes -= r.bytes;
    }
  }

  /** How many idempotency keys are remembered now. */
  get rememberedKeys(): number {
    return this.recent.size;
  }

  snapshot(): Uint8Array {
    const recent: unknown[] = [];
    for (const [id, r] of this.recent) recent.push(id, r.fp, r.index, r.failure);
    // v5: the cluster's settings; v4: the cluster in its compact form (v3 had it as toJSON gives
    // it); all three are read.
    return Buffer.from(
      JSON.stringify({ v: 5, applied: this.appliedIndex, kv: this.kv.toJSON(), cluster: this.cluster.encode(), security: this.security.toJSON(), membership: this.membership.toJSON(), settings: this.settings.toJSON(), announced: this.announced, recent }),
    );
  }

  restore(data: Uint8Array): void {
    const s = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as {
      v: number;
      applied: number;
      kv: [string, string, number][];
      cluster: Parameters<ClusterState['restore']>[0] | CompactClusterState;
      security?: Parameters<SecurityState['restore']>[0];
      membership?: Parameters<MembershipState['restore']>[0];
      settings?: Parameters<SettingsState['restore']>[0];
      announced?: { leader: number; term: number };
      recent: unknown[];
    };
    if (s.v !== 3 && s.v !== 4 && s.v !== 5) throw new Error(`snapshot format ${s.v} is not supported`);
    this.appliedIndex = s.applied;
    this.kv.restore(s.kv);
    this.cluster.restore(readCluster(s.v, s.cluster));
    this.security.restore(s.security);
    this.membership.restore(s.membership);
    this.settings.restore(s.settings);
    this.onMembershipChange?.();
    this.announced = s.announced ?? { leader: 0, term: 0 };
    this.events.reset(s.applied);
    this.clusterChanged();
    this.recent = new Map();
    this.rememberedBytes = 0;
    for (let k = 0; k + 3 < s.recent.length; k += 4) {
      // An older snapshot's results are compacted as a new apply would have kept them, and the
      // bounds applied as if its keys had been applied one by one: the oldest beyond them go.
      const id = s.recent[k] as string;
      const failure = compact(s.recent[k + 3]);
      const bytes = sizeOf(id, failure);
      this.recent.set(id, { fp: s.recent[k + 1] as number, index: s.recent[k + 2] as number, failure, bytes });
      this.rememberedBytes += bytes;
    }
    this.forgetOldest();
  }
}
