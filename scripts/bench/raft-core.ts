// Drives a 3-node cluster of Raft cores in memory (no disk, no network: what the core alone costs)
// and prints committed entries per second with 64-byte entries. Target: >= 200,000 entries/s.
//   npm run bench:raft-core [-- --seconds 3 --batch 256]
import { Raft, type Message, type NodeId } from '../../src/raft/index.js';
import { positiveIntArg, positiveNumberArg } from './lib/args.js';


const seconds = positiveNumberArg('seconds', 3);
const batch = positiveIntArg('batch', 256);
const ids: NodeId[] = [1, 2, 3];
const nodes = new Map<NodeId, Raft>(ids.map((id) => [id, new Raft({ id, conf: { voters: ids, learners: [] }, seed: id })]));
const applied = new Map<NodeId, number>(ids.map((id) => [id, 0]));
let queue: Message[] = [];

/** One turn of every node's Ready loop, then delivery of everything sent. */
function pump(): boolean {
  let moved = false;
  for (const [id, r] of nodes) {
    if (!r.hasReady()) continue;
    moved = true;
    const rd = r.ready();
    // (persisting is free here: this measures the core)
    for (const m of rd.messages) queue.push(m);
    if (rd.committedEntries.length) applied.set(id, rd.committedEntries[rd.committedEntries.length - 1].index);
    r.advance(rd);
    const a = applied.get(id)!;
    if (a - r.log.offset > 20_000) r.createSnapshot(a, new Uint8Array(0), 1000);
  }
  if (queue.length) {
    moved = true;
    const q = queue;
    queue = [];
    for (const m of q) nodes.get(m.to)!.step(m);
  }
  return moved;
}

const leader = nodes.get(1)!;
leader.campaign();
while (pump());
if (leader.role !== 'leader') throw new Error('no leader');

const payload = new Uint8Array(64).fill(7);
const start = process.hrtime.bigint();
const deadline = start + BigInt(Math.round(seconds * 1e9));
const first = leader.log.committed;
let now = start;
while (now < deadline) {
  for (let k = 0; k < batch; k++) {
    const res = leader.propose(payload);
    if (!res.ok) throw new Error(`proposal refused: ${res.reason}`);
  }
  while (pump());
  now = process.hrtime.bigint();
}
const secs = Number(now - start) / 1e9;
const committed = leader.log.committed - first;
const rate = committed / secs;
for (const id of ids) {
  if (applied.get(id)! !== leader.log.committed) throw new Error(`node ${id} applied ${applied.get(id)} of ${leader.log.committed}`);
}
console.log(`raft-core: 3 nodes in memory, 64-byte entries, batches of ${batch}`);
console.log(`  ${committed} entries committed and applied on all 3 in ${secs.toFixed(2)} s: ${Math.round(rate).toLocaleString('en-US')} entries/s`);
console.log(`  heap used: ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`);
console.log(rate >= 200_000 ? '  target (>= 200,000 entries/s): met' : '  target (>= 200,000 entries/s): NOT met');
