// How the Raft transport encodes its frames, decided by measurement: JSON (entry payloads as
// base64) against the length-prefixed binary framing of src/raft/core/codec.ts, on a typical frame of
// appends (64 entries of a 300-byte command) and on a frame of heartbeats.
//   node build/scripts/bench/raft-codec.js
import { decodeMessages, encodeMessages } from '../../src/raft/core/codec.js';
import type { Message } from '../../src/raft/core/types.js';

function appFrame(): Message[] {
  const data = Buffer.from(JSON.stringify({ op: 'kv.put', key: 'k123', value: 'v'.repeat(256), id: '5f0c1d2e-aaaa-bbbb-cccc-1234567890ab' }));
  const entries = Array.from({ length: 64 }, (_, k) => ({ term: 7, index: 1000 + k, type: 0 as const, data }));
  return [{ type: 'app', from: 1, to: 2, term: 7, index: 999, logTerm: 7, commit: 990, entries }];
}

function heartbeatFrame(): Message[] {
  return Array.from({ length: 8 }, (_, k) => ({ type: 'heartbeat' as const, from: 1, to: 2, term: 7, commit: 990 + k, readRound: k }));
}

function toJson(msgs: Message[]): string {
  return JSON.stringify(msgs, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
}

function fromJson(s: string): Message[] {
  const msgs = JSON.parse(s) as Message[];
  for (const m of msgs) if (m.type === 'app') for (const e of m.entries) e.data = Buffer.from(e.data as unknown as string, 'base64');
  return msgs;
}

function time(f: () => void, ms = 1000): number {
  for (let k = 0; k < 200; k++) f(); // warm up
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    f();
    n++;
  }
  return n / (ms / 1000);
}

for (const [name, frame] of [
  ['64 appended entries', appFrame()],
  ['8 heartbeats', heartbeatFrame()],
] as const) {
  const bin = encodeMessages(frame);
  const json = Buffer.from(toJson(frame));
  const binRate = time(() => decodeMessages(encodeMessages(frame)));
  const jsonRate = time(() => fromJson(Buffer.from(toJson(frame)).toString()));
  console.log(`${name}: binary ${bin.length} B, ${Math.round(binRate)} round trips/s; JSON ${json.length} B, ${Math.round(jsonRate)} round trips/s; binary is ${(binRate / jsonRate).toFixed(1)}x faster and ${(json.length / bin.length).toFixed(2)}x smaller`);
}
