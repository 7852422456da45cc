// Named scenarios that follow the Raft paper section by section, as etcd's raft_paper_test.go does,
// plus the extensions the design relies on (PreVote, CheckQuorum, ReadIndex, transfer, snapshots).
import t from 'tap';
import { Raft, NONE, type AppMsg, type Message } from '../../src/raft/index.js';
import { Net, data, entries } from '../helpers/raft-net.js';

function msgsOf(r: Raft): Message[] {
  const rd = r.ready();
  r.advance(rd);
  return rd.messages;
}

t.test('§5.1 terms: a message with a higher term turns any role into a follower of that term', async (t) => {
  for (const role of ['follower', 'candidate', 'leader'] as const) {
    const net = new Net(3, { preVote: false });
    if (role === 'candidate') net.node(1).campaign();
    if (role === 'leader') net.campaign(1);
    const r = net.node(1);
    r.step({ type: 'app', from: 2, to: 1, term: 10, index: r.log.lastIndex(), logTerm: r.log.lastTerm(), entries: [], commit: 0 });
    t.equal(r.term, 10, `${role}: adopts term 10`);
    t.equal(r.role, 'follower', `${role}: becomes a follower`);
    t.equal(r.lead, 2, `${role}: learns the leader from its append`);
  }
});

t.test('§5.1 stale-term messages are ignored', async (t) => {
  const net = new Net(3, { preVote: false, checkQuorum: false });
  net.campaign(1);
  net.campaign(2); // term 2 now
  const r = net.node(2);
  t.equal(r.term, 2);
  const before = r.log.lastIndex();
  r.step({ type: 'app', from: 1, to: 2, term: 1, index: before, logTerm: 1, entries: [{ term: 1, index: before + 1, type: 0, data: data('stale') }], commit: 0 });
  t.equal(r.log.lastIndex(), before, 'the stale append changed nothing');
  t.equal(r.role, 'leader', 'and the leader stays leader');
  t.same(msgsOf(r).filter((m) => m.to === 1 && m.type === 'app-resp'), [], 'nothing answered without CheckQuorum/PreVote');
});

t.test('§5.2 election: a candidate wins with a majority of votes in one round', async (t) => {
  const net = new Net(5, { preVote: false });
  net.isolate(4);
  net.isolate(5);
  net.campaign(1);
  t.equal(net.node(1).role, 'leader', '3 of 5 votes win');
  t.equal(net.node(1).term, 1);

  const lose = new Net(5, { preVote: false });
  for (const id of [3, 4, 5]) lose.isolate(id);
  lose.node(1).campaign();
  lose.stabilize();
  t.equal(lose.node(1).role, 'candidate', '2 of 5 votes: still a candidate (unclear outcome)');
});

t.test('§5.2 a follower votes at most once per term, first come first served', async (t) => {
  const r = new Net(3).node(1);
  r.step({ type: 'vote', from: 2, to: 1, term: 1, index: 0, logTerm: 0, transfer: false });
  r.step({ type: 'vote', from: 3, to: 1, term: 1, index: 0, logTerm: 0, transfer: false });
  r.step({ type: 'vote', from: 2, to: 1, term: 1, index: 0, logTerm: 0, transfer: false });
  const resps = msgsOf(r).filter((m) => m.type === 'vote-resp');
  t.same(
    resps.map((m) => [m.to, m.type === 'vote-resp' && m.reject]),
    [[2, false], [3, true], [2, false]],
    'grants node 2, refuses node 3, grants node 2 again (same candidate)',
  );
  t.equal(r.vote, 2);
});

t.test('§5.2 election timeouts are randomized in [election, 2*election)', async (t) => {
  const seen = new Set<number>();
  for (let seed = 1; seed <= 50; seed++) {
    const r = new Raft({ id: 1, conf: { voters: [1, 2, 3], learners: [] }, electionTicks: 10, seed, preVote: false });
    let ticks = 0;
    while (r.role === 'follower' && ticks < 100) {
      r.tick();
      ticks++;
    }
    t.ok(ticks >= 10 && ticks < 20, `seed ${seed}: campaigned after ${ticks} ticks`);
    seen.add(ticks);
  }
  t.ok(seen.size >= 5, `timeouts differ between nodes (${seen.size} distinct)`);
});

t.test('§5.2 dueling candidates: a split vote resolves in a later term', async (t) => {
  const net = new Net(3, { preVote: false, checkQuorum: false });
  net.cut(1, 3);
  net.campaign(1);
  net.campaign(3);
  t.equal(net.node(1).role, 'leader', 'node 1 won with node 2');
  t.equal(net.node(3).role, 'candidate', 'node 3 cannot win: node 2 voted in term 1');
  net.recover();
  // Node 3 campaigns at term 2, but its log is behind: everyone adopts term 2 and refuses it.
  net.campaign(3);
  for (const id of [1, 2, 3]) {
    t.equal(net.node(id).role, 'follower', `node ${id} is a follower`);
    t.equal(net.node(id).term, 2, `node ${id} is at term 2`);
  }
  // Later timeouts elect a node with the longer log (node 3 can never win), and the logs converge.
  for (let k = 0; k < 300 && !net.leader(); k++) net.tickAll(1);
  const l = net.leader();
  t.ok(l && l.id !== 3, 'a node with the committed entry leads');
  t.same(net.logTerms(3), net.logTerms(1), 'logs converge');
});

t.test('§5.2 dueling pre-candidates do not raise terms', async (t) => {
  const net = new Net(3, { preVote: true });
  net.cut(1, 3);
  net.campaign(1);
  net.campaign(3);
  t.equal(net.node(1).role, 'leader');
  t.equal(net.node(3).role, 'follower', 'the pre-vote failed: node 3 returns to follower');
  t.equal(net.node(3).term, 1, 'without raising its term');
});

t.test('§5.2 a candidate concedes to a leader of its term', async (t) => {
  const net = new Net(3, { preVote: false });
  net.isolate(1);
  net.campaign(1);
  net.campaign(3);
  t.equal(net.node(1).role, 'candidate');
  net.recover();
  net.tick(3, 1); // a heartbeat from leader 3 (term 2 >= 1's term 1)
  t.equal(net.node(1).role, 'follower', 'the candidate conceded');
  t.equal(net.node(1).lead, 3);
  net.propose(3, 'after-concede');
  for (const id of [1, 2, 3]) t.same(net.appliedText(id), ['after-concede'], `node ${id} applied`);
});

t.test('§5.3 replication: the leader commits and every follower applies in order', async (t) => {
  const net = new Net(3);
  net.campaign(1);
  for (const s of ['a', 'b', 'c']) net.propose(1, s);
  for (const id of [1, 2, 3]) t.same(net.appliedText(id), ['a', 'b', 'c'], `node ${id}`);
  t.equal(net.node(1).log.committed, 4, 'no-op + 3 commands');
});

t.test('§5.3 many proposals travel in one append (group commit)', async (t) => {
  const net = new Net(3);
  net.campaign(1);
  const before = net.delivered.length;
  for (let k = 0; k < 100; k++) net.node(1).propose(data(`p${k}`));
  net.stabilize();
  const apps = net.delivered.slice(before).filter((m): m is AppMsg => m.type === 'app' && m.entries.length > 0);
  t.equal(apps.length, 2, 'one append per follower carried all 100');
  t.equal(apps[0].entries.length, 100);
});

t.test('§5.3 Figure 7: followers with missing, extra and conflicting entries are brought into line', async (t) => {
  // The leader's log of Figure 7, and the follower logs (a)-(f).
  const leaderLog = entries(1, 1, 1, 4, 4, 5, 5, 6, 6, 6);
  const followers = [
    entries(1, 1, 1, 4, 4, 5, 5, 6, 6), // (a) missing one
    entries(1, 1, 1, 4), // (b) missing many
    entries(1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6), // (c) one extra uncommitted
    entries(1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7), // (d) extra of a later term
    entries(1, 1, 1, 4, 4, 4, 4), // (e) conflicting term 4 entries
    entries(1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3), // (f) conflicting terms 2 and 3
  ];
  for (const [k, f] of followers.entries()) {
    // Node 3 has an empty log and grants the vote, so node 1 leads even where the follower refuses.
    const net = new Net(3, { logs: { 1: leaderLog, 2: f, 3: [] }, terms: { 1: 8, 2: 8, 3: 8 }, preVote: false, checkQuorum: false });
    net.campaign(1);
    t.equal(net.node(1).role, 'leader', `(${'abcdef'[k]}) node 1 leads`);
    net.propose(1, 'x');
    t.same(net.logTerms(2), net.logTerms(1), `follower (${'abcdef'[k]}) now matches the leader`);
    t.equal(net.node(2).log.committed, net.node(1).log.committed, `follower (${'abcdef'[k]}) learned the commit index`);
  }
});

t.test('§5.3 fast backtracking: a conflicting follower is found in one round trip per term', async (t) => {
  // Leader: 1 followed by many term-3 entries; follower: 1 followed by many term-2 entries.
  const leaderLog = entries(1, ...Array(50).fill(3));
  const followerLog = entries(1, ...Array(60).fill(2));
  const net = new Net(3, { logs: { 1: leaderLog, 2: followerLog, 3: leaderLog }, terms: { 1: 3, 2: 3, 3: 3 }, preVote: false, checkQuorum: false });
  net.campaign(1);
  const rejects = net.delivered.filter((m) => m.type === 'app-resp' && m.from === 2 && m.reject);
  t.ok(rejects.length <= 2, `follower 2 rejected ${rejects.length} time(s), not once per index (60)`);
  t.same(net.logTerms(2), net.logTerms(1), 'and its log now matches');
});

t.test('§5.4.1 election restriction: a vote is refused to a candidate with a less up-to-date log', async (t) => {
  const r = new Net(3, { logs: { 1: entries(1, 2, 2) } }).node(1);
  r.step({ type: 'vote', from: 2, to: 1, term: 5, index: 5, logTerm: 1, transfer: false });
  r.step({ type: 'vote', from: 3, to: 1, term: 5, index: 2, logTerm: 2, transfer: false });
  const resps = msgsOf(r).filter((m) => m.type === 'vote-resp').map((m) => m.type === 'vote-resp' && m.reject);
  t.same(resps, [true, true], 'older last term and shorter log of the same last term both refused');
  r.step({ type: 'vote', from: 3, to: 1, term: 5, index: 3, logTerm: 2, transfer: false });
  t.same(msgsOf(r).filter((m) => m.type === 'vote-resp').map((m) => m.type === 'vote-resp' && m.reject), [false], 'an equal log is granted');
});

t.test('§5.4.2 Figure 8: a leader does not commit an old-term entry by counting replicas', async (t) => {
  // Node 1 leads term 2 with an uncommitted term-1 entry that it replicates to node 2 only...
  const net = new Net(3, { logs: { 1: entries(1, 1), 2: entries(1), 3: entries(1) }, terms: { 1: 1, 2: 1, 3: 1 }, preVote: false, checkQuorum: false });
  net.ignore('app-resp');
  net.campaign(1);
  t.equal(net.node(1).role, 'leader');
  net.recover();
  // ...and only the old-term entry reaches node 2: the no-op of term 2 is lost to both.
  const r1 = net.node(1);
  const old = r1.log.entry(2);
  t.equal(old.term, 1);
  r1.step({ type: 'app-resp', from: 2, to: 1, term: r1.term, index: 2, reject: false, hintIndex: 0, hintTerm: 0 });
  t.equal(r1.log.committed, 0, 'index 2 (term 1) is on a majority but is not committed by counting');
  // Once the current term's no-op is on a majority, both commit (Log Matching covers index 2).
  r1.step({ type: 'app-resp', from: 2, to: 1, term: r1.term, index: 3, reject: false, hintIndex: 0, hintTerm: 0 });
  t.equal(r1.log.committed, 3, 'the new-term entry commits, and the old one with it');
});

t.test('§5.4.2 commit without a new-term entry is impossible; the no-op makes it happen', async (t) => {
  const net = new Net(5, { preVote: false, checkQuorum: false });
  net.campaign(1);
  net.cut(1, 3);
  net.cut(1, 4);
  net.cut(1, 5);
  net.propose(1, 'x');
  net.propose(1, 'y');
  t.equal(net.node(1).log.committed, 1, 'only the first no-op is committed');
  net.recover();
  net.cut(2, 1); // node 2 has the entries; it must win and commit them through its own no-op
  net.campaign(2);
  t.equal(net.node(2).role, 'leader');
  t.equal(net.node(2).log.committed, 4, 'x and y commit through the term-2 no-op');
  t.same(net.appliedText(2), ['x', 'y']);
});

t.test('a new leader overwrites newer-term uncommitted entries of followers', async (t) => {
  // TestLeaderElectionOverwriteNewerLogs: node 1 has an uncommitted term-2 entry; nodes 2-3 elect a
  // leader with term-1 entries that later replaces it.
  const net = new Net(3, { logs: { 1: entries(1, 2), 2: entries(1, 1), 3: entries(1, 1) }, terms: { 1: 2, 2: 2, 3: 2 }, preVote: false, checkQuorum: false });
  net.isolate(1);
  net.campaign(2);
  t.equal(net.node(2).role, 'leader');
  net.recover();
  net.tickAll(2); // a heartbeat answer resumes probing node 1
  net.propose(2, 'z');
  t.same(net.logTerms(1), net.logTerms(2), 'node 1 dropped its uncommitted term-2 entry');
});

t.test('old messages of a deposed leader are ignored', async (t) => {
  const net = new Net(3, { preVote: false, checkQuorum: false });
  net.campaign(1);
  net.campaign(2);
  net.campaign(1);
  const r = net.node(1);
  const last = r.log.lastIndex();
  // A delayed append from node 2's term 2 arrives at node 1 (term 3).
  r.step({ type: 'app', from: 2, to: 1, term: 2, index: 2, logTerm: 2, entries: [{ term: 2, index: 3, type: 0, data: data('old') }], commit: 3 });
  net.propose(1, 'new');
  t.equal(r.log.lastIndex(), last + 1);
  for (const id of [1, 2, 3]) t.same(net.appliedText(id), ['new'], `node ${id} applied only the new command`);
});

t.test('PreVote: a node returning from a partition does not disrupt the leader', async (t) => {
  for (const preVote of [false, true]) {
    const net = new Net(3, { preVote, checkQuorum: false });
    net.campaign(1);
    net.propose(1, 'a');
    net.isolate(3);
    net.tick(3, 40); // several election timeouts alone
    const isolatedTerm = net.node(3).term;
    net.recover();
    net.tickAll(25); // long enough for node 3 to campaign again
    const leaderTerm = net.node(1).term;
    if (preVote) {
      t.equal(isolatedTerm, 1, 'with PreVote the isolated node did not raise its term');
      t.equal(net.node(1).role, 'leader', 'and the leader keeps leading');
      t.equal(leaderTerm, 1);
    } else {
      t.ok(isolatedTerm > 1, `without PreVote the isolated node raised its term to ${isolatedTerm}`);
      t.ok(leaderTerm > 1, 'and disrupted the cluster on return');
    }
  }
});

t.test('CheckQuorum: a leader that cannot hear a quorum steps down', async (t) => {
  const net = new Net(3, { checkQuorum: true });
  net.campaign(1);
  net.isolate(1);
  net.tick(1, 10);
  t.equal(net.node(1).role, 'leader', 'one election timeout: still leader (had heard a quorum recently)');
  net.tick(1, 10);
  t.equal(net.node(1).role, 'follower', 'after a full timeout without a quorum it steps down');
  t.equal(net.node(1).lead, NONE);
});

t.test('CheckQuorum: followers in lease ignore vote requests from a disruptive node', async (t) => {
  const net = new Net(3, { checkQuorum: true, preVote: false });
  net.campaign(1);
  net.node(3).campaign(); // node 3 forces an election in term 2 while 1 leads
  net.stabilize();
  t.equal(net.node(1).role, 'leader', 'node 1 still leads: node 2 refused to hear node 3');
  t.equal(net.node(2).term, 1);
});

t.test('leadership transfer to an up-to-date follower', async (t) => {
  const net = new Net(3);
  net.campaign(1);
  net.propose(1, 'a');
  t.ok(net.node(1).transferLeader(2));
  net.stabilize();
  t.equal(net.node(2).role, 'leader', 'node 2 leads');
  t.equal(net.node(1).role, 'follower');
  net.propose(2, 'b');
  for (const id of [1, 2, 3]) t.same(net.appliedText(id), ['a', 'b']);
});

t.test('leadership transfer to a lagging follower catches it up first', async (t) => {
  const net = new Net(3);
  net.campaign(1);
  net.isolate(3);
  for (let k = 0; k < 5; k++) net.propose(1, `e${k}`);
  net.recover();
  t.ok(net.node(1).transferLeader(3));
  t.equal(net.node(1).propose(data('blocked')).ok, false, 'proposals are refused during the transfer');
  net.stabilize();
  t.equal(net.node(3).role, 'leader', 'node 3 caught up and took over');
  t.equal(net.node(3).log.lastIndex() >= 7, true);
});

t.test('leadership transfer times out when the target is unreachable', async (t) => {
  const net = new Net(3);
  net.campaign(1);
  net.isolate(3);
  t.ok(net.node(1).transferLeader(3));
  t.equal(net.node(1).leadTransferee, 3);
  net.tick(1, 10);
  t.equal(net.node(1).leadTransferee, NONE, 'abandoned after an election timeout');
  t.ok(net.node(1).propose(data('ok')).ok, 'proposals accepted again');
});

t.test('ReadIndex: many reads are confirmed by one round of heartbeats', async (t) => {
  const net = new Net(3);
  net.campaign(1);
  net.propose(1, 'w');
  const before = net.delivered.length;
  const r = net.node(1);
  for (let ctx = 1; ctx <= 50; ctx++) r.readIndex(ctx);
  t.same(net.reads.get(1), [], 'no read is answered before a quorum confirms leadership');
  net.stabilize();
  const rounds = net.delivered.slice(before).filter((m) => m.type === 'heartbeat' && m.readRound > 0);
  t.equal(rounds.length, 2, 'one heartbeat per follower confirmed all 50 reads');
  const states = net.reads.get(1)!;
  t.same(states.map((s) => s.ctx), Array.from({ length: 50 }, (_, k) => k + 1), 'all 50 released, in order');
  t.ok(states.every((s) => s.index === r.log.committed), 'at the commit index');
});

t.test('ReadIndex: a partitioned leader cannot answer reads', async (t) => {
  const net = new Net(3);
  net.campaign(1);
  net.isolate(1);
  net.node(1).readIndex(9);
  net.stabilize();
  t.same(net.reads.get(1), [], 'no quorum, no read');
});

t.test('ReadIndex: a new leader answers reads only after committing an entry of its term', async (t) => {
  const net = new Net(3, { checkQuorum: false });
  net.campaign(1);
  net.ignore('app'); // the no-op of the next leader cannot commit
  net.campaign(2);
  const r = net.node(2);
  t.equal(r.role, 'leader');
  r.readIndex(7);
  const rd = net.processReady(2);
  t.same(rd?.readStates ?? [], [], 'no read state before its no-op commits');
  net.recover();
  net.tickAll(2);
  t.equal(r.log.term(r.log.committed), r.term, 'the no-op committed');
});

t.test('ReadIndex: a follower forwards reads to the leader and learns the index', async (t) => {
  const net = new Net(3);
  net.campaign(1);
  net.propose(1, 'w');
  const f = net.node(2);
  t.ok(f.readIndex(42));
  let got: { index: number; ctx: number } | undefined;
  for (let k = 0; k < 6 && !got; k++) {
    for (const id of [1, 2, 3]) {
      const rd = net.processReady(id);
      if (id === 2 && rd) got = rd.readStates.find((s) => s.ctx === 42);
      for (const m of net.take(id)) net.deliver(m);
    }
  }
  t.ok(got, 'the follower received its read state');
  t.equal(got!.index, net.node(1).log.committed, 'at the leader\'s commit index');
});

t.test('snapshot: a follower behind compaction receives the snapshot and catches up', async (t) => {
  const net = new Net(3);
  net.campaign(1);
  net.isolate(3);
  for (let k = 0; k < 20; k++) net.propose(1, `v${k}`);
  const r1 = net.node(1);
  const snap = r1.createSnapshot(r1.log.applied, data('state-at-21'), 2);
  t.ok(snap, 'snapshot taken');
  t.equal(r1.log.firstIndex(), r1.log.applied - 2 + 1, 'compacted, keeping 2 trailing entries');
  net.recover();
  net.tickAll(12); // heartbeats: node 3 answers, becomes active, is sent the snapshot
  const snaps = net.delivered.filter((m) => m.type === 'snap' && m.to === 3);
  t.equal(snaps.length, 1, 'exactly one snapshot sent to node 3');
  net.propose(1, 'after');
  t.equal(net.node(3).log.committed, r1.log.committed, 'node 3 caught up');
  t.same(net.appliedText(3), ['after'], 'node 3 applied only what came after the snapshot');
  t.equal(net.disks.get(3)!.snapshot?.meta.index, snap!.snapshot.meta.index, 'and persisted the snapshot');
});

t.test('restart: a node rebuilt from its persisted state keeps term, vote, log and commit', async (t) => {
  const net = new Net(3);
  net.campaign(1);
  for (const s of ['a', 'b']) net.propose(1, s);
  const before = net.node(2).status();
  net.crash(2);
  const r = net.boot(2);
  const after = r.status();
  t.equal(after.term, before.term);
  t.equal(after.vote, before.vote);
  t.equal(after.lastIndex, before.lastIndex);
  t.equal(after.commit, before.commit);
  net.stabilize();
  t.same(net.appliedText(2), ['a', 'b'], 'committed entries are applied again after the restart');
});

t.test('a restart refuses inconsistent persisted state with a clear error', async (t) => {
  const conf = { voters: [1, 2, 3], learners: [] };
  t.throws(
    () => new Raft({ id: 1, conf, persisted: { hardState: { term: 1, vote: 0, commit: 5 }, snapshot: null, entries: entries(1, 1) } }),
    /commit 5 is beyond the last persisted entry 2/,
  );
  const gap = entries(1, 1, 1).slice(1);
  t.throws(() => new Raft({ id: 1, conf, persisted: { hardState: { term: 1, vote: 0, commit: 0 }, snapshot: null, entries: gap } }), /start at 2 but there is no snapshot/);
  t.throws(() => new Raft({ id: 0, conf }), /positive integer/);
  t.throws(() => new Raft({ id: 1, conf: { voters: [1, 1], learners: [] } }), /appears twice/);
  t.throws(() => new Raft({ id: 1, conf, electionTicks: 1, heartbeatTicks: 1 }), /must exceed/);
});

t.test('flow control: at most maxInflight appends are in flight to a follower', async (t) => {
  const net = new Net(3, { maxInflight: 3, maxMsgEntries: 1 });
  net.campaign(1);
  net.cutOneWay(2, 1); // acks from 2 are lost; appends keep being sent only up to the window
  const r = net.node(1);
  for (let k = 0; k < 20; k++) r.propose(data(`x${k}`));
  const before = net.delivered.length;
  net.stabilize();
  const toTwo = net.delivered.slice(before).filter((m): m is AppMsg => m.type === 'app' && m.to === 2 && m.entries.length > 0);
  t.ok(toTwo.length <= 3, `${toTwo.length} appends sent to node 2 with a window of 3`);
  net.recover();
  net.tickAll(5);
  t.same(net.logTerms(2), net.logTerms(1), 'node 2 catches up once its answers arrive again');
});

t.test('a leader without a quorum refuses proposals past the uncommitted limit', async (t) => {
  const net = new Net(3, { maxUncommittedBytes: 1000, checkQuorum: false });
  net.campaign(1);
  net.isolate(1);
  const r = net.node(1);
  let accepted = 0;
  for (let k = 0; k < 100; k++) if (r.propose(new Uint8Array(100)).ok) accepted++;
  t.ok(accepted <= 11, `${accepted} accepted`);
  t.same(r.propose(new Uint8Array(100)), { ok: false, reason: 'too-many-uncommitted', lead: 1 });
});

t.test('the core must not be driven between ready() and advance()', async (t) => {
  const r = new Raft({ id: 1, conf: { voters: [1], learners: [] } });
  r.campaign();
  const rd = r.ready();
  t.throws(() => r.tick(), /between ready\(\) and advance\(\)/);
  r.advance(rd);
  t.doesNotThrow(() => r.tick());
  t.equal(r.role, 'leader', 'a single voter elects itself');
});

t.test('a follower that lost its log (wiped data dir) is started over, not waited for forever', async (t) => {
  const net = new Net(3);
  net.campaign(1);
  for (let k = 0; k < 10; k++) net.propose(1, `v${k}`);
  const r1 = net.node(1);
  r1.createSnapshot(r1.log.applied, data('state'), 2);
  // Node 3 loses everything it had acknowledged.
  net.crash(3);
  net.disks.set(3, { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [] });
  net.boot(3);
  net.tickAll(3);
  t.equal(net.node(3).role, 'follower', 'a stale commit in a heartbeat does not crash it');
  net.propose(1, 'after');
  t.equal(net.node(3).log.committed, r1.log.committed, 'it caught up (by snapshot)');
  t.equal(net.disks.get(3)!.snapshot?.meta.index, r1.log.snapshot!.meta.index, 'from the leader\'s snapshot');
});

t.test('forgetLeader: a dead leader is replaced within a few ticks; a live one is not disturbed', async (t) => {
  const dead = new Net(3);
  dead.campaign(1);
  dead.crash(1);
  dead.node(2).forgetLeader();
  dead.node(3).forgetLeader();
  let ticks = 0;
  while (!dead.leader() && ticks < 50) {
    for (const id of [2, 3]) dead.node(id).tick();
    dead.stabilize();
    ticks++;
  }
  t.ok(dead.leader(), 'a new leader');
  t.ok(ticks < 10, `elected after ${ticks} ticks (the election timeout is 10 to 19)`);

  const live = new Net(3);
  live.campaign(1);
  live.node(2).forgetLeader(); // a wrong hint: only node 2 thinks the leader is gone
  for (let k = 0; k < 5; k++) {
    live.node(2).tick();
    live.stabilize();
  }
  t.equal(live.node(1).role, 'leader', 'node 3 is in lease and refuses the pre-vote: node 1 still leads');
  t.equal(live.node(1).term, 1, 'and the term did not move');
});
