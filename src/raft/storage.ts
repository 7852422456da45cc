// The durable half of a Raft node, on classic-level (LevelDB): entries under big-endian index keys,
// the hard state, the latest snapshot, and records of its owner (the manager's identity, kept by
// src/manager/identity-store.ts: one LevelDB serves one data dir). A Ready goes to disk in one atomic
// batch with sync: true, so nothing is acknowledged (a vote, an append, a client's write) before it
// is durable. Every record carries a CRC-32 over its key and payload; a corrupt or truncated record
// found at start-up stops the node with a message naming the data dir and the record.
//
// The snapshot's data is a file of its own beside the database (written, synced and renamed before
// the record that names it is written), not a LevelDB value: LevelDB copies a large value into its
// write batch, its memtable and its compactions, several times its size in memory.
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { ClassicLevel } from 'classic-level';
import {
  CodecError,
  decodeEntry,
  decodeHardState,
  decodeSnapshotMeta,
  encodeEntry,
  encodeHardState,
  encodeSnapshotMeta,
} from './core/codec.js';
import type { PersistedState } from './core/raft.js';
import type { Entry, HardState, Ready, Snapshot } from './core/types.js';

/**
 * What a person can do about a damaged record (one line: the CLI prints the first line only). Not
 * "wipe it and restart": a manager restarted under its old id with an empty log has forgotten its
 * votes and could vote twice in one term, electing two leaders. It joins again as a new manager.
 */
function recovery(id: number | null): string {
  const who = id === null ? 'ID (its id: see "orch cluster")' : String(id);
  return `to recover, stop this manager, remove it from the cluster from another manager ("orch manager remove ${who}"), move its data dir away, and start it with an empty data dir and --join ADDRESS_OF_ANOTHER_MANAGER (and --token MANAGER_TOKEN on a TLS cluster) so that it joins under a new id and copies the data from the others; never restart it under its old id with an empty log, which forgets its votes (if it was the last one with data, see "Recovering from the loss of a quorum" in the README)`;
}

export class StorageError extends Error {}

export interface StorageOptions {
  /**
   * TEST HOOK ONLY: called before every synced write (log batches and snapshot files); what it
   * throws fails that write as a broken disk would. Tests of fail-stop inject EIO with it.
   */
  testHookBeforeWrite?: () => void;
}

type Key = Uint8Array;
type Op = { type: 'put'; key: Key; value: Uint8Array } | { type: 'del'; key: Key };

/**
 * Stands in for the data of a snapshot that is durable: the node drops the bytes (13 MB with 100,000
 * tasks) once the state machine has them, and the transport reads them back (readSnapshotData)
 * when a follower needs them. Compared by identity.
 */
export const SNAPSHOT_DATA_ON_DISK: Uint8Array = new Uint8Array(0);

const HARD_STATE_KEY = Buffer.from('h');
const SNAP_META_KEY = Buffer.from('sm');
/** The snapshot's data inline (written by earlier versions; still read). */
const SNAP_DATA_KEY = Buffer.from('sd');
/** The file that holds the snapshot's data: {file, bytes, crc}. */
const SNAP_FILE_KEY = Buffer.from('sf');
const SNAP_FILE = /^raft-snapshot-\d+-[0-9a-f]+\.(bin|tmp)$/;

interface SnapshotFile {
  file: string;
  bytes: number;
  crc: number;
}
/** The log's own keys: an owner's record may not use them. */
const RESERVED_KEYS = new Set(['h', 'sm', 'sd', 'sf']);
const ENTRY_PREFIX = 0x65; // 'e'

function entryKey(index: number): Key {
  const k = Buffer.alloc(9);
  k[0] = ENTRY_PREFIX;
  k.writeUInt32BE(Math.floor(index / 2 ** 32), 1);
  k.writeUInt32BE(index >>> 0, 5);
  return k;
}

function seal(key: Key, payload: Uint8Array): Uint8Array {
  const out = Buffer.alloc(4 + payload.length);
  out.writeUInt32BE(crc32(payload, crc32(key)), 0);
  out.set(payload, 4);
  return out;
}

export interface StorageStats {
  entries: number;
  firstIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  snapshotBytes: number;
}

export class RaftStorage {
  private first = 0;
  private last = 0;
  private snapshotIndex = 0;
  private snapshotBytes = 0;
  /** The newest hard state, and whether it still has to be written. */
  private hard: HardState = { term: 0, vote: 0, commit: 0 };
  private hardDirty = false;
  /** The snapshot the database names: its index and file (file null: an inline record of an earlier version). */
  private durable: { index: number; file: SnapshotFile | null } | null = null;
  /** Time spent in synced writes, for metrics: [count, total ms]. */
  readonly fsync = { count: 0, ms: 0 };

  /** The owner's id once known (setOwnerId): the recovery advice names it. */
  private knownId: number | null = null;

  private constructor(
    private readonly db: ClassicLevel<Key, Uint8Array>,
    readonly dir: string,
    private readonly opts: StorageOptions,
  ) {}

  static async open(dir: string, opts: StorageOptions = {}): Promise<RaftStorage> {
    const db = new ClassicLevel<Key, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (err) {
      throw new StorageError(`data dir ${dir}: cannot open the log database: ${(err as Error).cause ?? (err as Error).message}`);
    }
    return new RaftStorage(db, dir, opts);
  }

  private recovery(): string {
    return recovery(this.knownId);
  }

  private unseal(key: Key, value: Uint8Array, what: string): Uint8Array {
    if (value.length < 4) throw new StorageError(`data dir ${this.dir}: ${what} is truncated (${value.length} bytes); ${this.recovery()}`);
    const payload = value.subarray(4);
    const want = Buffer.from(value.buffer, value.byteOffset, 4).readUInt32BE(0);
    if (crc32(payload, crc32(key)) !== want) throw new StorageError(`data dir ${this.dir}: ${what} is corrupt (checksum mismatch); ${this.recovery()}`);
    return payload;
  }

  private decode<T>(what: string, f: () => T): T {
    try {
      return f();
    } catch (err) {
      if (err instanceof CodecError) throw new StorageError(`data dir ${this.dir}: ${what} is corrupt: ${err.message}; ${this.recovery()}`);
      throw err;
    }
  }

  /** The owner's id, once it knows it: the advice of every damaged-record error names it. */
  setOwnerId(id: number): void {
    this.knownId = id;
  }

  /**
   * A record of the storage's owner, kept beside the log (sealed and verified as the log's are):
   * its payload, or null if none was written. `what` names it in errors.
   */
  async getRecord(key: string, what: string): Promise<Uint8Array | null> {
    const k = this.ownerKey(key);
    const v = await this.db.get(k);
    return v === undefined ? null : this.unseal(k, v, what);
  }

  /** Writes an owner's record durably (synced). */
  async putRecord(key: string, payload: Uint8Array): Promise<void> {
    const k = this.ownerKey(key);
    await this.db.put(k, seal(k, payload), { sync: true });
  }

  private ownerKey(key: string): Key {
    if (key.length === 0 || key.startsWith(String.fromCharCode(ENTRY_PREFIX)) || RESERVED_KEYS.has(key)) {
      throw new Error(`raft storage: the record key ${JSON.stringify(key)} is empty or one of the log's own`);
    }
    return Buffer.from(key);
  }

  /** Reads and verifies everything a restart needs. Throws StorageError naming the bad record. */
  async load(): Promise<PersistedState & { empty: boolean }> {
    let hardState: HardState = { term: 0, vote: 0, commit: 0 };
    const hv = await this.db.get(HARD_STATE_KEY);
    if (hv !== undefined) {
      const p = this.unseal(HARD_STATE_KEY, hv, 'the hard state record');
      hardState = this.decode('the hard state record', () => decodeHardState(p));
    }
    this.hard = { ...hardState };
    let snapshot: Snapshot | null = null;
    const mv = await this.db.get(SNAP_META_KEY);
    if (mv !== undefined) {
      const meta = this.decode('the snapshot metadata', () => decodeSnapshotMeta(this.unseal(SNAP_META_KEY, mv, 'the snapshot metadata')));
      let data: Uint8Array;
      const fv = await this.db.get(SNAP_FILE_KEY);
      if (fv !== undefined) {
        const what = `the snapshot file record at index ${meta.index}`;
        const f = this.decode(what, () => JSON.parse(Buffer.from(this.unseal(SNAP_FILE_KEY, fv, what)).toString('utf8')) as SnapshotFile);
        data = await this.readSnapshotFile(f, meta.index);
        this.durable = { index: meta.index, file: f };
      } else {
        data = await this.readInlineSnapshot(meta.index);
        this.durable = { index: meta.index, file: null };
      }
      snapshot = { meta, data };
      this.snapshotIndex = meta.index;
      this.snapshotBytes = data.length;
    }
    const entries: Entry[] = [];
    for await (const [key, value] of this.db.iterator({ gte: entryKey(0), lte: entryKey(2 ** 53 - 1) })) {
      const index = Buffer.from(key.buffer, key.byteOffset, key.byteLength).readUInt32BE(1) * 2 ** 32 + Buffer.from(key.buffer, key.byteOffset, key.byteLength).readUInt32BE(5);
      const e = this.decode(`the entry at index ${index}`, () => decodeEntry(this.unseal(key, value, `the entry at index ${index}`)));
      if (e.index !== index) throw new StorageError(`data dir ${this.dir}: the record under index ${index} holds entry ${e.index}`);
      if (entries.length > 0 && index !== entries[entries.length - 1].index + 1) {
        throw new StorageError(`data dir ${this.dir}: the log has a gap between index ${entries[entries.length - 1].index} and ${index}`);
      }
      entries.push(e);
    }
    this.first = entries.length ? entries[0].index : this.snapshotIndex + 1;
    this.last = entries.length ? entries[entries.length - 1].index : this.snapshotIndex;
    const empty = hv === undefined && snapshot === null && entries.length === 0;
    await this.removeOtherSnapshotFiles();
    return { hardState, snapshot, entries, empty };
  }

  private async readSnapshotFile(f: SnapshotFile, index: number): Promise<Uint8Array> {
    if (typeof f.file !== 'string' || !SNAP_FILE.test(f.file)) throw new StorageError(`data dir ${this.dir}: the snapshot file record at index ${index} is corrupt; ${this.recovery()}`);
    let data: Buffer;
    try {
      data = await readFile(join(this.dir, f.file));
    } catch (err) {
      throw new StorageError(`data dir ${this.dir}: the snapshot file ${f.file} at index ${index} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ${this.recovery()}`);
    }
    if (data.length !== f.bytes) throw new StorageError(`data dir ${this.dir}: the snapshot file ${f.file} at index ${index} is truncated (${data.length} of ${f.bytes} bytes); ${this.recovery()}`);
    if (crc32(data) !== f.crc) throw new StorageError(`data dir ${this.dir}: the snapshot file ${f.file} at index ${index} is corrupt (checksum mismatch); ${this.recovery()}`);
    return data;
  }

  /**
   * The data of the durable snapshot at `index`, read back and verified: the node keeps only its
   * metadata in memory, and sends followers this. Throws once a newer snapshot has replaced it (its
   * file is then gone); the core retries with the newer one.
   */
  async readSnapshotData(index: number): Promise<Uint8Array> {
    const d = this.durable;
    if (!d || d.index !== index) throw new StorageError(`data dir ${this.dir}: the snapshot at index ${index} is not the current one (${d ? `that is at ${d.index}` : 'there is none'})`);
    if (d.file) {
      try {
        return await this.readSnapshotFile(d.file, index);
      } catch (err) {
        // A newer snapshot replaced it (and unlinked its file) during the read: not damage.
        if (this.durable !== d) throw new StorageError(`data dir ${this.dir}: the snapshot at index ${index} was replaced (now at ${this.durable?.index}) while it was read`);
        throw err;
      }
    }
    return this.readInlineSnapshot(index);
  }

  /** A snapshot's data as earlier versions wrote it: inline, in the database. */
  private async readInlineSnapshot(index: number): Promise<Uint8Array> {
    const dv = await this.db.get(SNAP_DATA_KEY);
    if (dv === undefined) throw new StorageError(`data dir ${this.dir}: the snapshot at index ${index} has no data record`);
    return this.unseal(SNAP_DATA_KEY, dv, `the snapshot data at index ${index}`).slice();
  }

  /** Snapshot files the database does not name: older ones, or one whose record a crash prevented. */
  private async removeOtherSnapshotFiles(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (SNAP_FILE.test(name) && name !== this.durable?.file?.file) await unlink(join(this.dir, name)).catch(() => undefined);
    }
  }

  /** Writes a snapshot's data to a new file, durably (file and directory synced), before any record names it. */
  private async writeSnapshotFile(s: Snapshot): Promise<SnapshotFile> {
    try {
      this.opts.testHookBeforeWrite?.();
      return await this.writeSnapshotFileUnchecked(s);
    } catch (err) {
      throw this.writeFailed('writing a snapshot file', err as Error);
    }
  }

  private async writeSnapshotFileUnchecked(s: Snapshot): Promise<SnapshotFile> {
    const file = `raft-snapshot-${s.meta.index}-${randomBytes(6).toString('hex')}.bin`;
    const tmp = join(this.dir, file.replace(/\.bin$/, '.tmp'));
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(s.data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.dir, file));
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
    return { file, bytes: s.data.byteLength, crc: crc32(s.data) };
  }

  /** Persists a Ready atomically and durably: snapshot, entries (truncating a replaced tail), hard state. */
  async save(rd: Ready): Promise<void> {
    const ops: Op[] = [];
    const file = rd.snapshot ? await this.writeSnapshotFile(rd.snapshot) : null;
    if (rd.snapshot) {
      // A snapshot from the leader replaces the whole log.
      for (let i = this.first; i <= this.last; i++) ops.push({ type: 'del', key: entryKey(i) });
      this.pushSnapshot(ops, rd.snapshot, file!);
      this.first = rd.snapshot.meta.index + 1;
      this.last = rd.snapshot.meta.index;
    }
    if (rd.entries.length > 0) {
      const lo = rd.entries[0].index;
      const hi = rd.entries[rd.entries.length - 1].index;
      for (const e of rd.entries) {
        const key = entryKey(e.index);
        ops.push({ type: 'put', key, value: seal(key, encodeEntry(e)) });
      }
      // Writing entry i discards persisted entries >= i.
      for (let i = hi + 1; i <= this.last; i++) ops.push({ type: 'del', key: entryKey(i) });
      if (this.last < this.first || lo < this.first) this.first = lo;
      this.last = hi;
    }
    let termOrVote = false;
    if (rd.hardState) {
      const h = rd.hardState;
      termOrVote = h.term !== this.hard.term || h.vote !== this.hard.vote;
      this.hard = { ...h };
      this.hardDirty = true;
    }
    // A vote or a term must be durable before anyone hears of it; a commit index need not be (a
    // restarted node learns it again from the leader). A Ready that only advances the commit index
    // writes nothing: the new index rides along with the next write.
    if (ops.length === 0 && !termOrVote) return;
    if (this.hardDirty) {
      ops.push({ type: 'put', key: HARD_STATE_KEY, value: seal(HARD_STATE_KEY, encodeHardState(this.hard)) });
      this.hardDirty = false;
    }
    if (ops.length === 0) return;
    await this.write(ops);
    if (file) await this.snapshotWritten(file, rd.snapshot!.meta.index);
  }

  /** Persists a snapshot the application took and deletes the entries up to compactedTo. */
  async saveSnapshot(s: Snapshot, compactedTo: number): Promise<void> {
    const file = await this.writeSnapshotFile(s);
    const ops: Op[] = [];
    this.pushSnapshot(ops, s, file);
    for (let i = this.first; i <= compactedTo && i <= this.last; i++) ops.push({ type: 'del', key: entryKey(i) });
    if (compactedTo >= this.first) this.first = compactedTo + 1;
    await this.write(ops);
    await this.snapshotWritten(file, s.meta.index);
  }

  private pushSnapshot(ops: Op[], s: Snapshot, f: SnapshotFile): void {
    ops.push({ type: 'put', key: SNAP_META_KEY, value: seal(SNAP_META_KEY, encodeSnapshotMeta(s.meta)) });
    ops.push({ type: 'put', key: SNAP_FILE_KEY, value: seal(SNAP_FILE_KEY, Buffer.from(JSON.stringify(f))) });
    ops.push({ type: 'del', key: SNAP_DATA_KEY });
    this.snapshotIndex = s.meta.index;
    this.snapshotBytes = s.data.length;
  }

  /** The record now names `f`: the previous snapshot's file goes. */
  private async snapshotWritten(f: SnapshotFile, index: number): Promise<void> {
    const old = this.durable?.file?.file;
    this.durable = { index, file: f };
    if (old && old !== f.file) await unlink(join(this.dir, old)).catch(() => undefined);
  }

  private async write(ops: Op[]): Promise<void> {
    const t0 = performance.now();
    try {
      this.opts.testHookBeforeWrite?.();
      await this.db.batch(ops, { sync: true });
    } catch (err) {
      throw this.writeFailed('writing the log', err as Error);
    }
    this.fsync.count++;
    this.fsync.ms += performance.now() - t0;
  }

  /** A failed write, named with its data dir and the system's reason (ENOSPC, EIO, ...). */
  private writeFailed(what: string, err: Error): StorageError {
    const cause = (err as { cause?: unknown }).cause;
    const code = (err as NodeJS.ErrnoException).code;
    const parts = [err.message, cause instanceof Error ? cause.message : undefined];
    if (code && !parts.some((p) => p?.includes(code))) parts.unshift(code);
    const detail = parts.filter(Boolean).join(': ');
    return new StorageError(`data dir ${this.dir}: ${what} failed (${detail})`);
  }

  stats(): StorageStats {
    return { entries: Math.max(0, this.last - this.first + 1), firstIndex: this.first, lastIndex: this.last, snapshotIndex: this.snapshotIndex, snapshotBytes: this.snapshotBytes };
  }

  async close(): Promise<void> {
    if (this.hardDirty) await this.db.put(HARD_STATE_KEY, seal(HARD_STATE_KEY, encodeHardState(this.hard)), { sync: true });
    await this.db.close();
  }
}
