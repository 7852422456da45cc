// The LevelDB log: what a Ready writes is what a restart reads, and a damaged record stops the
// start-up with a message naming the data dir and the record, never silently.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { ClassicLevel } from 'classic-level';
import { encodeSnapshotMeta } from '../../src/raft/core/codec.js';
import { RaftStorage } from '../../src/raft/storage.js';
import { IdentityStore } from '../../src/manager/identity-store.js';
import type { Entry, Ready } from '../../src/raft/core/types.js';

function ready(p: Partial<Ready>): Ready {
  return { softState: null, hardState: null, snapshot: null, entries: [], committedEntries: [], messages: [], readStates: [], ...p };
}

function ents(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ term, index: i, type: 0, data: Buffer.from(`e${i}t${term}`) });
  return out;
}

function tempDir(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'orch-storage-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test('entries, truncation, hard state and snapshots survive a reopen', async (t) => {
  const dir = tempDir(t);
  let s = await RaftStorage.open(dir);
  t.same((await s.load()).empty, true, 'a new dir is empty');
  await s.save(ready({ entries: ents(1, 10, 1), hardState: { term: 1, vote: 2, commit: 0 } }));
  await s.save(ready({ entries: ents(6, 8, 2), hardState: { term: 2, vote: 3, commit: 5 } })); // replaces 6..10
  await s.saveSnapshot({ meta: { index: 4, term: 1, conf: { voters: [1, 2, 3], learners: [] } }, data: Buffer.from('snap@4') }, 2);
  await s.close();
  s = await RaftStorage.open(dir);
  const p = await s.load();
  t.same(p.hardState, { term: 2, vote: 3, commit: 5 });
  t.same(p.entries.map((e) => [e.index, e.term]), [[3, 1], [4, 1], [5, 1], [6, 2], [7, 2], [8, 2]], 'compacted up to 2, truncated after 8');
  t.equal(Buffer.from(p.snapshot!.data).toString(), 'snap@4');
  t.same(p.snapshot!.meta.conf.voters, [1, 2, 3]);
  t.same(s.stats(), { entries: 6, firstIndex: 3, lastIndex: 8, snapshotIndex: 4, snapshotBytes: 6 });
  await s.close();
});

t.test('a commit-only change is written with the next write, a vote at once', async (t) => {
  const dir = tempDir(t);
  let s = await RaftStorage.open(dir);
  await s.save(ready({ entries: ents(1, 3, 1), hardState: { term: 1, vote: 1, commit: 0 } }));
  await s.save(ready({ hardState: { term: 1, vote: 1, commit: 3 } }));
  await s.close(); // close writes the pending commit
  s = await RaftStorage.open(dir);
  t.same((await s.load()).hardState, { term: 1, vote: 1, commit: 3 });
  await s.save(ready({ hardState: { term: 2, vote: 3, commit: 3 } }));
  await s.close();
  s = await RaftStorage.open(dir);
  t.same((await s.load()).hardState, { term: 2, vote: 3, commit: 3 }, 'the vote is durable');
  await s.close();
});

async function damage(dir: string, key: Uint8Array, f: (v: Uint8Array) => Uint8Array): Promise<void> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const v = await db.get(key);
  if (!v) throw new Error('no such record');
  await db.put(key, f(v));
  await db.close();
}

function entryKey(i: number): Uint8Array {
  const k = Buffer.alloc(9);
  k[0] = 0x65;
  k.writeUInt32BE(i, 5);
  return k;
}

t.test('one flipped byte in an entry stops the load, naming the data dir and the index', async (t) => {
  const dir = tempDir(t);
  const s = await RaftStorage.open(dir);
  await s.save(ready({ entries: ents(1, 5, 1), hardState: { term: 1, vote: 1, commit: 5 } }));
  await s.close();
  await damage(dir, entryKey(3), (v) => {
    const c = Buffer.from(v);
    c[c.length - 1] ^= 0x01;
    return c;
  });
  const s2 = await RaftStorage.open(dir);
  await t.rejects(s2.load(), { message: `data dir ${dir}: the entry at index 3 is corrupt (checksum mismatch)` });
  await s2.close();
});

t.test('the advice for a damaged log: remove the manager and join under a new id, never restart it empty', async (t) => {
  const dir = tempDir(t);
  const s = await RaftStorage.open(dir);
  await new IdentityStore(s).set({ id: 2, address: '127.0.0.1:7002', clusterId: 'c1' });
  await s.save(ready({ entries: ents(1, 3, 1), hardState: { term: 1, vote: 2, commit: 3 } }));
  await s.close();
  await damage(dir, entryKey(2), (v) => Buffer.concat([v, Buffer.from([1])]));
  const s2 = await RaftStorage.open(dir);
  await new IdentityStore(s2).get();
  const err = await s2.load().then(
    () => null,
    (e: Error) => e,
  );
  await s2.close();
  t.ok(err, 'the load is refused');
  const msg = err!.message;
  t.notMatch(msg, /\n/, 'one line: the CLI prints the first line only');
  t.match(msg, `data dir ${dir}: the entry at index 2 is corrupt (checksum mismatch); to recover,`);
  t.match(msg, '"orch manager remove 2"', 'it names the command, with this manager\'s id');
  t.match(msg, /--join .*joins under a new id/, 'it says to join again under a new id');
  t.match(msg, /never restart it under its old id with an empty log/, 'it warns against the restart that breaks vote safety');
  t.notMatch(msg, /start it again with the same flags/, 'not the old advice (same id, empty log)');
  // Before the identity is read (it may be what is damaged), the advice still holds, without an id.
  const s3 = await RaftStorage.open(dir);
  await t.rejects(s3.load(), /"orch manager remove ID \(its id: see "orch cluster"\)"/);
  await s3.close();
});

t.test('a truncated record and a damaged hard state are refused too', async (t) => {
  const dir = tempDir(t);
  const s = await RaftStorage.open(dir);
  await s.save(ready({ entries: ents(1, 2, 1), hardState: { term: 1, vote: 1, commit: 2 } }));
  await s.close();
  await damage(dir, entryKey(2), (v) => v.subarray(0, 3));
  let s2 = await RaftStorage.open(dir);
  await t.rejects(s2.load(), /the entry at index 2 is truncated/);
  await s2.close();
  await damage(dir, entryKey(2), () => Buffer.alloc(0));
  await damage(dir, Buffer.from('h'), (v) => Buffer.concat([v, Buffer.from([0])]));
  s2 = await RaftStorage.open(dir);
  await t.rejects(s2.load(), new RegExp(`data dir ${dir}: the hard state record is corrupt`));
  await s2.close();
});

t.test('a snapshot is a file of its own: the newest is kept, a damaged or missing one stops the load', async (t) => {
  const dir = tempDir(t);
  const conf = { voters: [1, 2, 3], learners: [] };
  let s = await RaftStorage.open(dir);
  await s.save(ready({ entries: ents(1, 10, 1), hardState: { term: 1, vote: 1, commit: 10 } }));
  await s.saveSnapshot({ meta: { index: 4, term: 1, conf }, data: Buffer.from('snap@4') }, 2);
  await s.saveSnapshot({ meta: { index: 8, term: 1, conf }, data: Buffer.from('snap@8') }, 6);
  // A leader's snapshot replaces the log (and the local snapshot) too.
  await s.save(ready({ snapshot: { meta: { index: 12, term: 2, conf }, data: Buffer.from('snap@12') }, hardState: { term: 2, vote: 1, commit: 12 } }));
  await s.close();
  const files = () => readdirSync(dir).filter((f) => f.startsWith('raft-snapshot-'));
  t.equal(files().length, 1, 'older snapshot files are deleted');
  // A file left by a crash before its record was written is not the snapshot, and goes at the next load.
  writeFileSync(join(dir, 'raft-snapshot-99-0123456789ab.tmp'), 'half');
  writeFileSync(join(dir, 'raft-snapshot-99-0123456789ab.bin'), 'whole but never recorded');
  s = await RaftStorage.open(dir);
  let p = await s.load();
  t.equal(Buffer.from(p.snapshot!.data).toString(), 'snap@12');
  t.equal(p.snapshot!.meta.index, 12);
  t.same(p.entries, []);
  t.same(s.stats(), { entries: 0, firstIndex: 13, lastIndex: 12, snapshotIndex: 12, snapshotBytes: 7 });
  await s.close();
  t.equal(files().length, 1, 'unrecorded snapshot files are removed');
  const [file] = files();
  const bytes = readFileSync(join(dir, file));
  bytes[0] ^= 0x01;
  writeFileSync(join(dir, file), bytes);
  s = await RaftStorage.open(dir);
  await t.rejects(s.load(), { message: new RegExp(`^data dir ${dir}: the snapshot file ${file} at index 12 is corrupt \\(checksum mismatch\\)`) });
  await s.close();
  writeFileSync(join(dir, file), bytes.subarray(0, 3));
  s = await RaftStorage.open(dir);
  await t.rejects(s.load(), { message: new RegExp(`the snapshot file ${file} at index 12 is truncated \\(3 of 7 bytes\\)`) });
  await s.close();
  rmSync(join(dir, file));
  s = await RaftStorage.open(dir);
  await t.rejects(s.load(), { message: new RegExp(`the snapshot file ${file} at index 12 cannot be read \\(ENOENT\\)`) });
  await s.close();
});

t.test('the current snapshot is read back from its file for a follower; a replaced one is refused', async (t) => {
  const dir = tempDir(t);
  const conf = { voters: [1, 2, 3], learners: [] };
  let s = await RaftStorage.open(dir);
  await s.save(ready({ entries: ents(1, 10, 1), hardState: { term: 1, vote: 1, commit: 10 } }));
  await s.saveSnapshot({ meta: { index: 4, term: 1, conf }, data: Buffer.from('snap@4') }, 2);
  t.equal(Buffer.from(await s.readSnapshotData(4)).toString(), 'snap@4');
  await s.saveSnapshot({ meta: { index: 8, term: 1, conf }, data: Buffer.from('snap@8') }, 6);
  await t.rejects(s.readSnapshotData(4), { message: `data dir ${dir}: the snapshot at index 4 is not the current one (that is at 8)` });
  t.equal(Buffer.from(await s.readSnapshotData(8)).toString(), 'snap@8');
  await s.save(ready({ snapshot: { meta: { index: 12, term: 2, conf }, data: Buffer.from('snap@12') }, hardState: { term: 2, vote: 1, commit: 12 } }));
  t.equal(Buffer.from(await s.readSnapshotData(12)).toString(), 'snap@12', "a leader's snapshot, once saved, too");
  await s.close();
  s = await RaftStorage.open(dir);
  await t.rejects(s.readSnapshotData(12), { message: /there is none/ }, 'nothing before the load');
  await s.load();
  t.equal(Buffer.from(await s.readSnapshotData(12)).toString(), 'snap@12', 'after a restart');
  const [file] = readdirSync(dir).filter((f) => f.startsWith('raft-snapshot-'));
  const bytes = readFileSync(join(dir, file));
  bytes[0] ^= 0x01;
  writeFileSync(join(dir, file), bytes);
  await t.rejects(s.readSnapshotData(12), { message: new RegExp(`the snapshot file ${file} at index 12 is corrupt \\(checksum mismatch\\)`) }, 'damage found since the load is named');
  await s.close();
});

t.test('a snapshot written inline by an earlier version is still read, and the next one moves to a file', async (t) => {
  const dir = tempDir(t);
  const conf = { voters: [1], learners: [] };
  let s = await RaftStorage.open(dir);
  await s.save(ready({ entries: ents(1, 6, 1), hardState: { term: 1, vote: 1, commit: 6 } }));
  await s.close();
  const sealed = (key: Buffer, payload: Uint8Array) => {
    const out = Buffer.alloc(4 + payload.length);
    out.writeUInt32BE(crc32(payload, crc32(key)), 0);
    out.set(payload, 4);
    return out;
  };
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  await db.put(Buffer.from('sm'), sealed(Buffer.from('sm'), encodeSnapshotMeta({ index: 3, term: 1, conf })));
  await db.put(Buffer.from('sd'), sealed(Buffer.from('sd'), Buffer.from('inline@3')));
  await db.close();
  s = await RaftStorage.open(dir);
  let p = await s.load();
  t.equal(Buffer.from(p.snapshot!.data).toString(), 'inline@3');
  t.equal(Buffer.from(await s.readSnapshotData(3)).toString(), 'inline@3', 'read back for a follower from its record');
  await s.saveSnapshot({ meta: { index: 5, term: 1, conf }, data: Buffer.from('file@5') }, 4);
  await s.close();
  s = await RaftStorage.open(dir);
  p = await s.load();
  t.equal(Buffer.from(p.snapshot!.data).toString(), 'file@5');
  t.same(p.entries.map((e) => e.index), [5, 6]);
  await s.close();
});
