// Membership changes in the Raft core, one server at a time (Raft dissertation §4): learners,
// promotion, removal (of the leader too), one change in flight, and configurations that survive
// restarts and snapshots. Randomized coverage is in test/property/raft-membership-sim.test.ts.
import t from 'tap';
import { EntryType, decodeConfChange } from '../../src/raft/index.js';
import { Net } from '../helpers/raft-net.js';

function grownTo4(): Net {
  const net = new Net(3);
  net.campaign(1);
  net.propose(1, 'before');
  return net;
}

t.test('a learner receives the log but neither votes nor counts for commit', async (t) => {
  const net = grownTo4();
  net.join(4);
  const res = net.node(1).proposeConfChange({ type: 'add-learner', id: 4 });
  t.ok(res.ok, 'the leader accepts add-learner');
  net.stabilize();
  t.same(net.node(4).conf, { voters: [1, 2, 3], learners: [4] }, 'the learner learned the configuration from the log');
  t.same(net.appliedText(4), ['before'], 'and caught up with the commands');
  // With 2 and 3 cut off, the leader and the learner are not a majority: nothing commits.
  net.isolate(2);
  net.isolate(3);
  const before = net.node(1).log.committed;
  net.propose(1, 'needs-a-voter');
  t.equal(net.node(1).log.committed, before, 'a learner does not count towards commit');
  net.recover();
  net.tick(1, 3);
  t.ok(net.node(1).log.committed > before, 'committed once voters answer');
  // A learner never campaigns, however long it hears nothing.
  net.isolate(4);
  net.tick(4, 100);
  t.equal(net.node(4).role, 'follower', 'the learner stays a follower');
  t.equal(net.node(4).term, net.node(1).term, 'and never raises its term');
});

t.test('promotion makes a learner a voter; one change at a time; bad changes are named', async (t) => {
  const net = grownTo4();
  net.join(4);
  const l = net.node(1);
  t.ok(l.proposeConfChange({ type: 'add-learner', id: 4 }).ok);
  const second = l.proposeConfChange({ type: 'add-learner', id: 5 });
  t.match(second, { ok: false, reason: 'conf-change-pending' }, 'a second change is refused while the first is uncommitted');
  net.stabilize();
  t.match(l.proposeConfChange({ type: 'promote', id: 2 }), { ok: false, reason: 'bad-conf-change', detail: /already a voter/ });
  t.match(l.proposeConfChange({ type: 'remove', id: 9 }), { ok: false, reason: 'bad-conf-change', detail: /not a member/ });
  t.match(l.proposeConfChange({ type: 'add-learner', id: 4 }), { ok: false, reason: 'bad-conf-change', detail: /already a learner/ });
  t.match(l.proposeConfChange({ type: 'add-learner', id: -1 }), { ok: false, reason: 'bad-conf-change', detail: /positive integer/ });
  t.ok(l.proposeConfChange({ type: 'promote', id: 4 }).ok, 'promote accepted once add-learner committed');
  net.stabilize();
  for (const id of [1, 2, 3, 4]) t.same(net.node(id).conf, { voters: [1, 2, 3, 4], learners: [] }, `node ${id} sees 4 voters`);
  // 4 voters: a majority is 3, so the leader plus one follower no longer commit.
  net.isolate(3);
  net.isolate(4);
  const before = l.log.committed;
  net.propose(1, 'two-of-four');
  t.equal(l.log.committed, before, '2 of 4 voters do not commit');
  net.recover();
  net.tick(1, 3);
  t.ok(l.log.committed > before, '3 of 4 do');
  // The new voter can be elected.
  t.ok(l.transferLeader(4), 'leadership can be handed to the promoted node');
  net.stabilize();
  t.equal(net.node(4).role, 'leader', 'the promoted node leads');
});

t.test('a removed leader leads until the removal commits, then steps down; the rest elect a leader', async (t) => {
  const net = grownTo4();
  const l = net.node(1);
  const res = l.proposeConfChange({ type: 'remove', id: 1 });
  t.ok(res.ok, 'the leader may remove itself');
  net.stabilize();
  t.equal(l.role, 'follower', 'it stepped down once the removal committed');
  t.same(net.node(2).conf, { voters: [2, 3], learners: [] });
  t.ok(l.log.committed >= (res.ok ? res.index : 0), 'the removal committed');
  net.tickAll(40);
  const nl = net.leader();
  t.ok(nl && nl.id !== 1, `a remaining voter leads (${nl?.id})`);
  net.propose(nl!.id, 'after-removal');
  t.same(net.appliedText(2).slice(-1), ['after-removal'], 'and commits with 2 of 2');
  t.equal(l.role, 'follower', 'the removed node never campaigns');
});

t.test('configurations come back from the log and from snapshots after a restart', async (t) => {
  const net = grownTo4();
  net.join(4);
  net.node(1).proposeConfChange({ type: 'add-learner', id: 4 });
  net.stabilize();
  net.node(1).proposeConfChange({ type: 'promote', id: 4 });
  net.stabilize();
  // Node 2 restarts from its log alone (no snapshot): the change entries restore its configuration.
  net.crash(2);
  const r2 = net.boot(2);
  t.same(r2.conf, { voters: [1, 2, 3, 4], learners: [] }, 'restart from the log');
  // Node 4 joined with no configuration: it restarts from its log too.
  net.crash(4);
  t.same(net.boot(4).conf, { voters: [1, 2, 3, 4], learners: [] }, 'a joiner restarts from its log');
  // A snapshot records the configuration at its index; the log after it is empty.
  const l = net.node(1);
  const snap = l.createSnapshot(l.log.applied, new Uint8Array([1]), 0)!;
  t.same(snap.snapshot.meta.conf, { voters: [1, 2, 3, 4], learners: [] }, 'the snapshot names the configuration');
  const changes = net.disks.get(1)!.entries.filter((e) => e.type === EntryType.ConfChange).map((e) => decodeConfChange(e.data).change.type);
  t.same(changes, ['add-learner', 'promote'], 'both changes are entries in the log');
});

t.test('a node whose uncommitted change is truncated returns to the older configuration', async (t) => {
  const net = grownTo4();
  net.join(4);
  const l = net.node(1);
  // Leader 1 appends add-learner but nobody receives it.
  net.isolate(1);
  t.ok(l.proposeConfChange({ type: 'add-learner', id: 4 }).ok);
  net.stabilize();
  t.same(l.conf.learners, [4], 'the leader uses the new configuration as soon as it appends it');
  // 2 and 3 elect a leader of a later term and commit without the change.
  net.tick(2, 30);
  net.tick(3, 30);
  const nl = net.leader() ?? [net.node(2), net.node(3)].find((r) => r.role === 'leader');
  t.ok(nl && nl.id !== 1, 'a leader was elected without node 1');
  net.propose(nl!.id, 'without-the-change');
  // Node 1 comes back: its uncommitted change is overwritten, and its configuration with it.
  net.recover();
  net.tickAll(5);
  t.equal(l.role, 'follower', 'the old leader follows');
  t.same(l.conf, { voters: [1, 2, 3], learners: [] }, 'its configuration is the older one again');
  t.notOk(net.disks.get(1)!.entries.some((e) => e.type === EntryType.ConfChange), 'the change entry is gone from its log');
});
