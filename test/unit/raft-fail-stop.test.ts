// Fail-stop of the Raft driver (src/raft/node.ts): a disk write that fails or an apply that throws
// stops the node for good. The proposal that was waiting is never acknowledged, the owner hears of
// it once (onFatal), and nothing is taken afterwards. One voter on a real LevelDB in a temp dir.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeStoppedError, OutcomeUnknownError, RaftNode, type StateMachine } from '../../src/raft/node.js';
import { RaftStorage, StorageError } from '../../src/raft/storage.js';
import type { HttpTransport } from '../../src/raft/transport.js';
import type { Entry } from '../../src/raft/core/types.js';

/** What `p` rejects with (null if it resolves), for checks of the error's class. */
async function refusal(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (e: unknown) => e,
  );
}

/** One voter sends nothing; the driver only registers its snapshot reader. */
const noTransport = { send: () => undefined, setSnapshotReader: () => undefined } as unknown as HttpTransport;

class Counter implements StateMachine {
  applied: string[] = [];
  throwOn: string | null = null;
  apply(e: Entry): unknown {
    const text = Buffer.from(e.data).toString();
    if (text === this.throwOn) throw new Error(`cannot apply ${text}`);
    this.applied.push(text);
    return this.applied.length;
  }
  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify(this.applied));
  }
  restore(d: Uint8Array): void {
    this.applied = JSON.parse(Buffer.from(d).toString()) as string[];
  }
}

async function oneVoter(t: { teardown(fn: () => unknown): void }, failWrites: { on: boolean }) {
  const dir = mkdtempSync(join(tmpdir(), 'orch-failstop-'));
  const storage = await RaftStorage.open(dir, {
    testHookBeforeWrite: () => {
      if (failWrites.on) throw Object.assign(new Error('EIO: i/o error (test)'), { code: 'EIO' });
    },
  });
  const sm = new Counter();
  const fatal: Error[] = [];
  const node = new RaftNode({ id: 1, conf: { voters: [1], learners: [] }, storage, sm, heartbeatMs: 10, electionMs: 50, snapshotEvery: 1000, keepEntries: 10, onFatal: (e) => fatal.push(e) });
  await node.start(noTransport);
  t.teardown(async () => {
    await node.stop(100);
    await storage.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  for (let k = 0; k < 200 && !node.isReadyLeader(); k++) await new Promise((r) => setTimeout(r, 10));
  if (!node.isReadyLeader()) throw new Error('the single voter did not become the ready leader within 2 s');
  return { node, sm, fatal };
}

t.test('a failed disk write: the waiting proposal is not acknowledged and the node takes nothing more', async (t) => {
  const failWrites = { on: false };
  const { node, sm, fatal } = await oneVoter(t, failWrites);
  t.equal(await node.propose(Buffer.from('a')), 1, 'a write before the failure is acknowledged');
  failWrites.on = true;
  t.type(await refusal(node.propose(Buffer.from('b'))), OutcomeUnknownError, 'the write whose entry could not be persisted is not acknowledged');
  t.same(sm.applied, ['a'], 'the entry that was not persisted was not applied');
  t.equal(fatal.length, 1, 'the owner is told once');
  t.type(fatal[0], StorageError);
  t.match(fatal[0].message, /writing the log failed \(EIO: i\/o error \(test\)\)/, 'the error names what failed and why');
  t.notOk(node.isLeader(), 'it no longer claims to lead');
  t.equal(node.status().role, 'follower', 'nor does its status page');
  t.type(await refusal(node.propose(Buffer.from('c'))), NodeStoppedError, 'later writes are refused as safe to retry elsewhere');
  t.type(await refusal(node.readBarrier()), NodeStoppedError, 'and so are linearizable reads');
  t.equal(fatal.length, 1, 'still told only once');
});

t.test('an apply that throws: the proposal is not acknowledged and the node stops', async (t) => {
  const { node, sm, fatal } = await oneVoter(t, { on: false });
  t.equal(await node.propose(Buffer.from('a')), 1);
  sm.throwOn = 'b';
  t.type(await refusal(node.propose(Buffer.from('b'))), OutcomeUnknownError, 'the entry the state machine could not apply is not acknowledged');
  t.equal(fatal.length, 1, 'the owner is told once');
  t.match(fatal[0].message, /the state machine failed to apply entry \d+ \(term \d+\): cannot apply b/);
  t.type(await refusal(node.propose(Buffer.from('c'))), NodeStoppedError);
  t.same(sm.applied, ['a'], 'nothing was applied after the failure');
});

t.test('stop() is bounded even while a write hangs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-failstop-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let hang = false;
  const real = await RaftStorage.open(dir);
  t.teardown(() => real.close().catch(() => undefined));
  // A storage whose save never returns once `hang` is set: a disk that stopped answering.
  const storage = new Proxy(real, {
    get(target, prop, recv) {
      if (prop === 'save') return (rd: Parameters<RaftStorage['save']>[0]) => (hang ? new Promise(() => undefined) : target.save(rd));
      const v = Reflect.get(target, prop, recv) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const node = new RaftNode({ id: 1, conf: { voters: [1], learners: [] }, storage, sm: new Counter(), heartbeatMs: 10, electionMs: 50, snapshotEvery: 1000, keepEntries: 10 });
  await node.start(noTransport);
  for (let k = 0; k < 200 && !node.isReadyLeader(); k++) await new Promise((r) => setTimeout(r, 10));
  t.ok(node.isReadyLeader(), 'leader');
  hang = true;
  void node.propose(Buffer.from('x')).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 50));
  const t0 = performance.now();
  const idle = await node.stop(300);
  const took = performance.now() - t0;
  t.equal(idle, false, 'stop() reports that a write was still in progress');
  t.ok(took < 1000, `stop() returned after ${Math.round(took)} ms, not never`);
});
