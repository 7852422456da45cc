// The manager's identity record moved from the Raft storage to src/manager: a data dir written
// before must open after. The record is the sealed JSON under the key 'id' that earlier versions
// wrote (crc32 over key and payload, big-endian, before the payload); written here by hand.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { ClassicLevel } from 'classic-level';
import { RaftStorage, StorageError } from '../../src/raft/index.js';
import { IdentityStore, type Identity } from '../../src/manager/identity-store.js';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'orch-identity-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const KEY = Buffer.from('id');

function sealed(payload: Buffer): Buffer {
  const out = Buffer.alloc(4 + payload.length);
  out.writeUInt32BE(crc32(payload, crc32(KEY)), 0);
  payload.copy(out, 4);
  return out;
}

async function raw<T>(dir: string, f: (db: ClassicLevel<Buffer, Buffer>) => Promise<T>): Promise<T> {
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    return await f(db);
  } finally {
    await db.close();
  }
}

const joined: Identity = { id: 4, address: '127.0.0.1:7004', clusterId: 'c0ffee', joined: { '1': '127.0.0.1:7001', '4': '127.0.0.1:7004' } };

t.test('an identity written in the earlier format is read as it was', async (t) => {
  const dir = tempDir(t);
  await raw(dir, (db) => db.put(KEY, sealed(Buffer.from(JSON.stringify(joined)))));
  const s = await RaftStorage.open(dir);
  t.teardown(() => s.close());
  t.same(await new IdentityStore(s).get(), joined);
  t.same((await s.load()).empty, true, 'and the log beside it is still empty');
});

t.test('what the store writes is the earlier format, byte for byte', async (t) => {
  const dir = tempDir(t);
  const s = await RaftStorage.open(dir);
  const store = new IdentityStore(s);
  t.equal(await store.get(), null, 'a new data dir has none');
  await store.set(joined);
  await s.close();
  const v = await raw(dir, (db) => db.get(KEY));
  t.same(v, sealed(Buffer.from(JSON.stringify(joined))));
});

t.test('a damaged identity record stops the start-up, naming it', async (t) => {
  const dir = tempDir(t);
  const v = sealed(Buffer.from(JSON.stringify(joined)));
  v[v.length - 2] ^= 0x01;
  await raw(dir, (db) => db.put(KEY, v));
  const s = await RaftStorage.open(dir);
  t.teardown(() => s.close());
  const err = await new IdentityStore(s).get().then(
    () => null,
    (e: Error) => e,
  );
  t.ok(err instanceof StorageError, 'a storage error');
  t.match(err?.message, `data dir ${dir}: the identity record is corrupt (checksum mismatch)`);
});

t.test('the damaged log\'s advice names the manager the identity record names', async (t) => {
  const dir = tempDir(t);
  await raw(dir, async (db) => {
    await db.put(KEY, sealed(Buffer.from(JSON.stringify(joined))));
    await db.put(Buffer.from('h'), Buffer.from([0, 0]));
  });
  const s = await RaftStorage.open(dir);
  t.teardown(() => s.close());
  await new IdentityStore(s).get();
  await t.rejects(s.load(), { message: /the hard state record is truncated .*"orch manager remove 4"/ });
});

t.test('an owner\'s record may not use a key of the log', async (t) => {
  const s = await RaftStorage.open(tempDir(t));
  t.teardown(() => s.close());
  for (const key of ['h', 'sm', 'sd', 'sf', 'e', '']) {
    await t.rejects(s.putRecord(key, Buffer.from('x')), { message: /is empty or one of the log's own/ }, `key ${JSON.stringify(key)}`);
  }
});
