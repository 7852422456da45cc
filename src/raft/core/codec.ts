// Binary encodings of the Raft data that crosses a disk or a socket: entries, hard state, snapshot
// metadata and messages. A length-prefixed binary framing, not JSON: entry payloads are bytes,
// which JSON would have to base64 (scripts/bench/raft-codec.ts compares them).
//
// Every decoder treats its input as untrusted: a short, truncated or malformed buffer raises a
// CodecError that says what was wrong and where, never an out-of-bounds read or a half-built value.
import type { ConfState, Entry, HardState, Message, Snapshot, SnapshotMeta } from './types.js';

export class CodecError extends Error {}

const MSG_TYPES = [
  'app',
  'app-resp',
  'vote',
  'pre-vote',
  'vote-resp',
  'pre-vote-resp',
  'heartbeat',
  'heartbeat-resp',
  'snap',
  'timeout-now',
  'read-index',
  'read-index-resp',
] as const;
const TYPE_CODE = new Map<string, number>(MSG_TYPES.map((t, k) => [t, k]));

/** A growable byte buffer with big-endian writers. */
export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  len = 0;

  constructor(size = 256) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.len++] = v;
  }

  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.len, v);
    this.len += 4;
  }

  /** Integers up to 2^53 (terms, indexes, ids). */
  u64(v: number): void {
    this.room(8);
    this.view.setUint32(this.len, Math.floor(v / 2 ** 32));
    this.view.setUint32(this.len + 4, v >>> 0);
    this.len += 8;
  }

  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

export class Reader {
  private pos = 0;
  private readonly view: DataView;

  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number, field: string): void {
    if (this.pos + n > this.buf.length) {
      throw new CodecError(`${this.what}: truncated at byte ${this.pos} reading ${field} (${this.buf.length} bytes in all)`);
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++];
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  u64(field: string): number {
    this.need(8, field);
    const hi = this.view.getUint32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    this.pos += 8;
    if (hi >= 2 ** 21) throw new CodecError(`${this.what}: ${field} does not fit in 53 bits`);
    return hi * 2 ** 32 + lo;
  }

  bytes(field: string): Uint8Array {
    const n = this.u32(`${field} length`);
    this.need(n, field);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  bool(field: string): boolean {
    const v = this.u8(field);
    if (v > 1) throw new CodecError(`${this.what}: ${field} must be 0 or 1, got ${v}`);
    return v === 1;
  }

  end(): void {
    if (this.pos !== this.buf.length) throw new CodecError(`${this.what}: ${this.buf.length - this.pos} unexpected trailing bytes`);
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }
}

export function writeEntry(w: Writer, e: Entry): void {
  w.u64(e.term);
  w.u64(e.index);
  w.u8(e.type);
  w.bytes(e.data);
}

export function readEntry(r: Reader): Entry {
  const term = r.u64('entry term');
  const index = r.u64('entry index');
  const type = r.u8('entry type');
  if (type > 1) throw new CodecError(`entry ${index}: unknown type ${type}`);
  // Copy: the entry outlives the request or read buffer it came in.
  const data = r.bytes('entry data').slice();
  return { term, index, type: type as Entry['type'], data };
}

export function encodeEntry(e: Entry): Uint8Array {
  const w = new Writer(32 + e.data.length);
  writeEntry(w, e);
  return w.finish();
}

export function decodeEntry(b: Uint8Array, what = 'entry'): Entry {
  const r = new Reader(b, what);
  const e = readEntry(r);
  r.end();
  return e;
}

export function encodeHardState(h: HardState): Uint8Array {
  const w = new Writer(24);
  w.u64(h.term);
  w.u64(h.vote);
  w.u64(h.commit);
  return w.finish();
}

export function decodeHardState(b: Uint8Array): HardState {
  const r = new Reader(b, 'hard state');
  const h = { term: r.u64('term'), vote: r.u64('vote'), commit: r.u64('commit') };
  r.end();
  return h;
}

function writeConf(w: Writer, c: ConfState): void {
  w.u32(c.voters.length);
  for (const id of c.voters) w.u64(id);
  w.u32(c.learners.length);
  for (const id of c.learners) w.u64(id);
}

function readIds(r: Reader, field: string): number[] {
  const n = r.u32(`${field} count`);
  if (n > 10_000) throw new CodecError(`${field}: ${n} ids is more than any cluster has`);
  const ids: number[] = [];
  for (let k = 0; k < n; k++) ids.push(r.u64(field));
  return ids;
}

function readConf(r: Reader): ConfState {
  return { voters: readIds(r, 'voters'), learners: readIds(r, 'learners') };
}

export function writeSnapshotMeta(w: Writer, m: SnapshotMeta): void {
  w.u64(m.index);
  w.u64(m.term);
  writeConf(w, m.conf);
}

export function readSnapshotMeta(r: Reader): SnapshotMeta {
  return { index: r.u64('snapshot index'), term: r.u64('snapshot term'), conf: readConf(r) };
}

export function encodeSnapshotMeta(m: SnapshotMeta): Uint8Array {
  const w = new Writer(64);
  writeSnapshotMeta(w, m);
  return w.finish();
}

export function decodeSnapshotMeta(b: Uint8Array): SnapshotMeta {
  const r = new Reader(b, 'snapshot metadata');
  const m = readSnapshotMeta(r);
  r.end();
  return m;
}

/** Messages in one frame: a count, then each message. */
export function encodeMessages(msgs: readonly Message[]): Uint8Array {
  // Sized up front: growing by doubling would allocate (and drop) twice a megabyte frame's bytes.
  let size = 16;
  for (const m of msgs) {
    size += 64;
    if (m.type === 'app') for (const e of m.entries) size += 21 + e.data.length;
    else if (m.type === 'snap') size += 64 + 8 * (m.snapshot.meta.conf.voters.length + m.snapshot.meta.conf.learners.length) + m.snapshot.data.length;
    else if (m.type === 'read-index' || m.type === 'read-index-resp') size += 8 * m.ctxs.length;
  }
  const w = new Writer(size);
  w.u32(msgs.length);
  for (const m of msgs) writeMessage(w, m);
  return w.finish();
}

export function decodeMessages(b: Uint8Array): Message[] {
  const r = new Reader(b, 'raft messages');
  const n = r.u32('message count');
  if (n > 100_000) throw new CodecError(`raft messages: ${n} messages in one frame is too many`);
  const out: Message[] = [];
  for (let k = 0; k < n; k++) out.push(readMessage(r));
  r.end();
  return out;
}

function writeMessage(w: Writer, m: Message): void {
  w.u8(TYPE_CODE.get(m.type)!);
  w.u64(m.from);
  w.u64(m.to);
  w.u64(m.term);
  switch (m.type) {
    case 'app':
      w.u64(m.index);
      w.u64(m.logTerm);
      w.u64(m.commit);
      w.u32(m.entries.length);
      for (const e of m.entries) writeEntry(w, e);
      return;
    case 'app-resp':
      w.u64(m.index);
      w.u8(m.reject ? 1 : 0);
      w.u64(m.hintIndex);
      w.u64(m.hintTerm);
      return;
    case 'vote':
    case 'pre-vote':
      w.u64(m.index);
      w.u64(m.logTerm);
      w.u8(m.transfer ? 1 : 0);
      return;
    case 'vote-resp':
    case 'pre-vote-resp':
      w.u8(m.reject ? 1 : 0);
      return;
    case 'heartbeat':
      w.u64(m.commit);
      w.u64(m.readRound);
      return;
    case 'heartbeat-resp':
      w.u64(m.readRound);
      return;
    case 'snap':
      writeSnapshotMeta(w, m.snapshot.meta);
      w.bytes(m.snapshot.data);
      return;
    case 'timeout-now':
      return;
    case 'read-index':
      w.u32(m.ctxs.length);
      for (const c of m.ctxs) w.u64(c);
      return;
    case 'read-index-resp':
      w.u64(m.index);
      w.u32(m.ctxs.length);
      for (const c of m.ctxs) w.u64(c);
      return;
  }
}

function readMessage(r: Reader): Message {
  const code = r.u8('message type');
  const type = MSG_TYPES[code];
  if (type === undefined) throw new CodecError(`raft messages: unknown message type ${code}`);
  const from = r.u64('from');
  const to = r.u64('to');
  const term = r.u64('term');
  switch (type) {
    case 'app': {
      const index = r.u64('index');
      const logTerm = r.u64('logTerm');
      const commit = r.u64('commit');
      const n = r.u32('entry count');
      const entries: Entry[] = [];
      for (let k = 0; k < n; k++) {
        const e = readEntry(r);
        if (e.index !== index + 1 + k) throw new CodecError(`raft messages: append after ${index} carries entry ${e.index} at position ${k}`);
        entries.push(e);
      }
      return { type, from, to, term, index, logTerm, commit, entries };
    }
    case 'app-resp':
      return { type, from, to, term, index: r.u64('index'), reject: r.bool('reject'), hintIndex: r.u64('hintIndex'), hintTerm: r.u64('hintTerm') };
    case 'vote':
    case 'pre-vote':
      return { type, from, to, term, index: r.u64('index'), logTerm: r.u64('logTerm'), transfer: r.bool('transfer') };
    case 'vote-resp':
    case 'pre-vote-resp':
      return { type, from, to, term, reject: r.bool('reject') };
    case 'heartbeat':
      return { type, from, to, term, commit: r.u64('commit'), readRound: r.u64('readRound') };
    case 'heartbeat-resp':
      return { type, from, to, term, readRound: r.u64('readRound') };
    case 'snap': {
      const meta = readSnapshotMeta(r);
      const data = r.bytes('snapshot data').slice();
      return { type, from, to, term, snapshot: { meta, data } satisfies Snapshot };
    }
    case 'timeout-now':
      return { type, from, to, term };
    case 'read-index':
    case 'read-index-resp': {
      const index = type === 'read-index-resp' ? r.u64('index') : 0;
      const n = r.u32('ctx count');
      if (n > 1_000_000) throw new CodecError(`raft messages: ${n} read contexts is too many`);
      const ctxs: number[] = [];
      for (let k = 0; k < n; k++) ctxs.push(r.u64('ctx'));
      return type === 'read-index' ? { type, from, to, term, ctxs } : { type, from, to, term, index, ctxs };
    }
  }
}
