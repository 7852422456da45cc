// RaftNode's onReadyLeader (src/raft/node.ts): the manager's duty runner starts the leader duties on
// it, so it must say "ready leader of term T" exactly when isReadyLeader() turns true, once, and
// null when that ends (here: a fatal apply, the one way a single voter stops leading).
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftNode } from '../../src/raft/node.js';
import { RaftStorage } from '../../src/raft/storage.js';
import type { HttpTransport } from '../../src/raft/transport.js';

const noTransport = { send: () => undefined, setSnapshotReader: () => undefined } as unknown as HttpTransport;

t.test('a single voter reports its ready leadership once, and its end', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-ready-'));
  const storage = await RaftStorage.open(dir);
  const reports: { term: number | null; ready: boolean }[] = [];
  let node: RaftNode | null = null;
  node = new RaftNode({
    id: 1,
    conf: { voters: [1], learners: [] },
    storage,
    sm: {
      apply: (e) => {
        if (Buffer.from(e.data).toString() === 'boom') throw new Error('cannot apply boom');
        return null;
      },
      snapshot: () => new Uint8Array(0),
      restore: () => undefined,
    },
    heartbeatMs: 10,
    electionMs: 50,
    snapshotEvery: 1000,
    keepEntries: 10,
    onFatal: () => undefined,
    onReadyLeader: (term) => reports.push({ term, ready: node!.isReadyLeader() }),
  });
  await node.start(noTransport);
  t.teardown(async () => {
    await node.stop(100);
    await storage.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  for (let k = 0; k < 200 && reports.length === 0; k++) await new Promise((r) => setTimeout(r, 10));
  t.equal(reports.length, 1, 'one report once it leads with its first entry committed');
  t.same(reports[0], { term: node.term(), ready: true }, 'naming its term, while isReadyLeader() holds');
  await node.propose(Buffer.from('a'));
  await new Promise((r) => setTimeout(r, 50)); // five heartbeats' turns
  t.equal(reports.length, 1, 'not repeated turn after turn');
  await node.propose(Buffer.from('boom')).catch(() => undefined);
  t.same(reports.at(-1), { term: null, ready: false }, 'a fatal error ends it, and says so');
  t.equal(reports.length, 2);
});
