// Raft messages over HTTP. Sending: one undici Pool per peer (keep-alive); all messages for one
// peer produced in one turn go in one request; each peer has its own bounded queue and one request
// in flight, so a slow or dead peer never delays the others; a request that fails or times out is
// dropped (Raft retransmits) and reported. Snapshots travel separately, in chunks.
// Receiving: the fastify routes in transport-routes.ts.
import type { RaftFaults } from './faults.js';
import { Pool, type buildConnector } from 'undici';
import { decodeMessages, encodeMessages } from './core/codec.js';
import { SNAPSHOT_DATA_ON_DISK } from './storage.js';
import type { Message, NodeId, SnapMsg } from './core/types.js';

export const MESSAGES_PATH = '/raft/messages';
export const SNAPSHOT_PATH = '/raft/snapshot';
export const SNAPSHOT_CHUNK_BYTES = 1 << 20;
/** Requests in flight per peer, pipelined on one connection. */
const MAX_IN_FLIGHT = 2;

export interface TransportEvents {
  /** A peer could not be reached: the core stops streaming to it optimistically. */
  unreachable(to: NodeId): void;
  /** A snapshot was delivered (ok) or not. */
  snapshotDone(to: NodeId, ok: boolean): void;
  /** The data of the snapshot to send could not be read back from disk (a newer one replaced it, or the file is damaged). */
  snapshotUnreadable?(index: number, err: Error): void;
  /** Answers that came back in a response. */
  receive(msgs: Message[]): void;
}

export interface TransportOptions {
  /** Per-request timeout; a dead peer costs at most this much, and only its own queue waits. */
  timeoutMs: number;
  /** Messages waiting for one peer beyond this are dropped (oldest first). */
  maxQueued?: number;
  /** Sent with every request so the receiver can refuse messages meant for another cluster. */
  clusterId: string;
  /** Injected faults (chaos runs only). */
  faults?: RaftFaults;
  /**
   * Mutual TLS: the connector for the peer at an address, which presents this manager's certificate
   * and accepts only that peer's (plain HTTP without).
   */
  tlsConnectTo?: (address: string) => buildConnector.connector;
}

class Peer {
  readonly pool: Pool;
  queue: Message[] = [];
  inFlight = 0;
  snapshotBusy = false;
  /** Consecutive failures: logged once per outage, not once per request. */
  failures = 0;

  constructor(
    readonly id: NodeId,
    public address: string,
    timeoutMs: number,
    tlsConnectTo?: (address: string) => buildConnector.connector,
  ) {
    const tlsConnect = tlsConnectTo?.(address);
    // One connection keeps the peer's frames in order; two requests pipelined on it let the next
    // batch travel while the peer is still writing the previous one to disk.
    this.pool = new Pool(`${tlsConnect ? 'https' : 'http'}://${address}`, {
      connections: 1,
      pipelining: 2,
      keepAliveTimeout: 30_000,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(tlsConnect ? { connect: tlsConnect } : { connectTimeout: timeoutMs }),
    });
  }
}

export class HttpTransport {
  private readonly peers = new Map<NodeId, Peer>();
  private closed = false;
  private snapshotReader: ((index: number) => Promise<Uint8Array>) | null = null;
  /** Counters for metrics and tests. */
  readonly stats = { requests: 0, messages: 0, failures: 0, dropped: 0, snapshots: 0, snapshotsReadFromDisk: 0 };

  constructor(
    private readonly self: NodeId,
    peers: Map<NodeId, string>,
    private readonly events: TransportEvents,
    private readonly opts: TransportOptions,
  ) {
    for (const [id, addr] of peers) if (id !== self) this.peers.set(id, new Peer(id, addr, opts.timeoutMs, opts.tlsConnectTo));
  }

  /** Follows membership changes: new managers get a connection, removed ones lose theirs. */
  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    if (this.closed) return;
    for (const [id, p] of this.peers) {
      if (peers.get(id) === p.address) continue;
      this.peers.delete(id);
      void p.pool.destroy().catch(() => undefined);
    }
    for (const [id, addr] of peers) {
      if (id !== this.self && !this.peers.has(id)) this.peers.set(id, new Peer(id, addr, this.opts.timeoutMs, this.opts.tlsConnectTo));
    }
  }

  /** Queues messages; never blocks the caller. */
  send(msgs: readonly Message[]): void {
    if (this.closed) return;
    const touched = new Set<Peer>();
    const faults = this.opts.faults;
    for (const m of msgs) {
      const p = this.peers.get(m.to);
      if (!p) continue;
      if (faults && !faults.canSendTo(m.to)) {
        this.stats.dropped++;
        continue;
      }
      if (m.type === 'snap') {
        void this.sendSnapshot(p, m);
        continue;
      }
      p.queue.push(m);
      touched.add(p);
    }
    const max = this.opts.maxQueued ?? 10_000;
    for (const p of touched) {
      if (p.queue.length > max) {
        const drop = p.queue.length - max;
        p.queue.splice(0, drop);
        this.stats.dropped += drop;
        this.events.unreachable(p.id);
      }
      if (p.inFlight < MAX_IN_FLIGHT) void this.flush(p);
    }
  }

  private async flush(p: Peer): Promise<void> {
    while (p.queue.length > 0 && !this.closed) {
      const batch = p.queue;
      p.queue = [];
      p.inFlight++;
      this.stats.requests++;
      this.stats.messages += batch.length;
      try {
        const res = await p.pool.request({
          method: 'POST',
          path: MESSAGES_PATH,
          headers: { 'content-type': 'application/octet-stream', 'x-orch-cluster': this.opts.clusterId, 'x-orch-from': String(this.self), 'x-orch-reply': '1' },
          body: encodeMessages(batch),
        });
        if (res.statusCode === 200) {
          const answers = decodeMessages(new Uint8Array(await res.body.arrayBuffer()));
          // Untrusted like any frame: only messages from that peer to us.
          if (!this.opts.faults || this.opts.faults.canReceiveFrom(p.id)) this.events.receive(answers.filter((m) => m.from === p.id && m.to === this.self));
        } else await res.body.dump();
        if (res.statusCode >= 300) throw new Error(`HTTP ${res.statusCode}`);
        p.failures = 0;
      } catch {
        // The messages are lost; Raft retransmits what matters. Tell the core to back off.
        this.stats.failures++;
        p.failures++;
        this.events.unreachable(p.id);
      } finally {
        p.inFlight--;
      }
    }
  }

  /** Where the data of a durable snapshot is read back from (RaftStorage.readSnapshotData). */
  setSnapshotReader(read: (index: number) => Promise<Uint8Array>): void {
    this.snapshotReader = read;
  }

  private async sendSnapshot(p: Peer, m: SnapMsg): Promise<void> {
    if (p.snapshotBusy) return; // one at a time per peer; the core retries if this one is lost
    p.snapshotBusy = true;
    this.stats.snapshots++;
    let ok = false;
    try {
      if (m.snapshot.data === SNAPSHOT_DATA_ON_DISK) {
        if (!this.snapshotReader) throw new Error('no snapshot reader: the snapshot data is on disk');
        const meta = m.snapshot.meta;
        const data = await this.snapshotReader(meta.index).catch((err: Error) => {
          this.events.snapshotUnreadable?.(meta.index, err);
          throw err;
        });
        m = { ...m, snapshot: { meta, data } };
        this.stats.snapshotsReadFromDisk++;
      }
      const frame = encodeMessages([m]);
      const id = `${m.from}-${m.term}-${m.snapshot.meta.index}-${Date.now()}`;
      for (let off = 0; off < frame.length || off === 0; off += SNAPSHOT_CHUNK_BYTES) {
        const chunk = frame.subarray(off, off + SNAPSHOT_CHUNK_BYTES);
        const res = await p.pool.request({
          method: 'POST',
          path: SNAPSHOT_PATH,
          headers: {
            'content-type': 'application/octet-stream',
            'x-orch-cluster': this.opts.clusterId,
            'x-orch-from': String(this.self),
            'x-orch-snapshot': id,
            'x-orch-offset': String(off),
            'x-orch-total': String(frame.length),
          },
          body: chunk,
        });
        await res.body.dump();
        if (res.statusCode >= 300) throw new Error(`HTTP ${res.statusCode}`);
        if (frame.length === 0) break;
      }
      ok = true;
    } catch {
      this.stats.failures++;
    } finally {
      p.snapshotBusy = false;
      if (!this.closed) this.events.snapshotDone(p.id, ok);
    }
  }

  /** Messages waiting per peer (bounded by maxQueued). */
  queued(): Record<number, number> {
    const out: Record<number, number> = {};
    for (const [id, p] of this.peers) out[id] = p.queue.length;
    return out;
  }

  peerFailures(id: NodeId): number {
    return this.peers.get(id)?.failures ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.peers.values()].map((p) => p.pool.destroy()));
  }
}
