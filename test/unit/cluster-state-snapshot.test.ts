// The snapshot format of the cluster state does not change by accident: a populated state encodes to
// the very bytes the code before the split of cluster-state.ts wrote (test/fixtures, generated then),
// and those bytes, and the older v3 form, restore to the same state, indexes included.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ManagerState, type Envelope } from '../../src/manager/state/machine.js';
import { ClusterState } from '../../src/manager/state/cluster-state.js';

interface Fixture {
  commands: Envelope[];
  results: unknown[];
  snapshot: string;
  v3: string;
}
const fixture = JSON.parse(readFileSync(new URL('../../../test/fixtures/cluster-state-snapshot.json', import.meta.url), 'utf8')) as Fixture;

function applyAll(st: ManagerState, cmds: Envelope[], first = 1): unknown[] {
  return cmds.map((c, k) => st.apply({ term: 1, index: first + k, type: 0, data: ManagerState.encode(c) }));
}

function restored(text: string): ManagerState {
  const st = new ManagerState();
  st.restore(Buffer.from(text));
  return st;
}

/** What the indexes say, per node and service: a restore must rebuild them as applying did. */
function indexes(c: ClusterState): unknown {
  const nodes = ['n1', 'n2', 'n3', 'n4', 'n9'];
  return {
    taskIdsOn: nodes.map((n) => [...c.taskIdsOn(n)].sort()),
    assignmentsOf: nodes.map((n) => c.assignmentsOf(n).map((x) => x.id).sort()),
    byName: ['web', 'api', 'db', 'nope'].map((n) => c.findService(n)?.id ?? null),
  };
}

const text = (s: Uint8Array) => Buffer.from(s).toString('utf8');

t.test('the fixture is a populated state, not an empty one', async (t) => {
  const s = JSON.parse(fixture.snapshot) as { v: number; cluster: { services: unknown[]; tasks: unknown[]; nodes: unknown[]; removedNodes: string[]; strings: string[] } };
  t.equal(s.v, 5);
  t.equal(s.cluster.services.length, 3, 'services');
  t.ok(s.cluster.tasks.length >= 5, 'tasks');
  t.ok(s.cluster.nodes.length >= 3, 'nodes');
  t.same(s.cluster.removedNodes, ['n3'], 'a removed node');
  t.ok(s.cluster.strings.length > 0, 'shared strings');
});

t.test('applying the same commands gives the same results and the same snapshot bytes as before', async (t) => {
  const st = new ManagerState();
  const results = applyAll(st, fixture.commands);
  t.same(JSON.parse(JSON.stringify(results)), fixture.results, 'results');
  t.equal(text(st.snapshot()), fixture.snapshot, 'snapshot bytes');
});

t.test('a snapshot written before restores to the same state, and writes the same bytes again', async (t) => {
  const fresh = new ManagerState();
  applyAll(fresh, fixture.commands);
  const st = restored(fixture.snapshot);
  t.equal(text(st.snapshot()), fixture.snapshot, 'snapshot bytes after a restore');
  t.same(st.cluster.toJSON(), fresh.cluster.toJSON(), 'the state');
  t.same(indexes(st.cluster), indexes(fresh.cluster), 'the indexes');
  t.same(st.cluster.assignVersion, fresh.cluster.assignVersion, 'assignment versions');
  // The rebuilt node index is what node.status and node.remove walk: more commands after the restore
  // must act as they do on a state that applied everything.
  const dbSpec = (fixture.commands.find((c) => c.op === 'service.upsert' && c.serviceId === 's-db') as Extract<Envelope, { op: 'service.upsert' }>).spec;
  const more: Envelope[] = [
    { op: 'node.status', ts: 5000, nodes: [{ id: 'n1', status: 'down' }], id: 'more-1' },
    { op: 'task.report', ts: 5001, nodeId: 'n2', reports: [{ taskId: 't-web-2', state: 'running' }], id: 'more-2' },
    { op: 'service.upsert', ts: 5002, serviceId: 'ignored', spec: dbSpec, id: 'more-3' },
    { op: 'node.remove', ts: 5003, nodeId: 'n4', id: 'more-4' },
    { op: 'task.remove', ts: 5004, ids: ['t-db-1', 't-api-2'], id: 'more-5' },
  ];
  const first = fixture.commands.length + 1;
  const after = applyAll(st, more, first);
  t.same(after[0], { ok: true, tasks: 2 }, 'node n1 down loses its two live tasks, found through the rebuilt index');
  t.same(after, applyAll(fresh, more, first), 'results of later commands');
  t.equal(text(st.snapshot()), text(fresh.snapshot()), 'snapshots after later commands');
  t.same(indexes(st.cluster), indexes(fresh.cluster), 'the indexes after later commands');
});

t.test('the older v3 form (the cluster as toJSON) restores to the same cluster', async (t) => {
  const st = restored(fixture.v3);
  const fresh = restored(fixture.snapshot);
  t.equal(JSON.stringify(st.cluster.encode()), JSON.stringify(fresh.cluster.encode()), 'the cluster, encoded');
  t.same(indexes(st.cluster), indexes(fresh.cluster), 'the indexes');
});

t.test('a snapshot from before specs were kept per task version is upgraded on restore', async (t) => {
  const c = new ClusterState();
  const plain = JSON.parse(JSON.stringify(restored(fixture.snapshot).cluster.toJSON())) as Parameters<ClusterState['restore']>[0];
  const old = plain.services.map((s) => {
    const { specs: _specs, maxTaskVersion: _max, update: _update, ...rest } = s;
    return rest;
  });
  c.restore({ ...plain, services: old as never, tasks: plain.tasks.map(({ runningAt: _r, health: _h, ...rest }) => rest) as never });
  const web = c.findService('web')!;
  t.same(Object.keys(web.specs), [String(web.taskVersion)], 'the current spec only');
  t.equal(web.maxTaskVersion, web.taskVersion);
  t.equal(web.update, null);
  t.ok([...c.tasks.values()].every((x) => x.runningAt === null && x.health === null), 'runningAt and health default to null');
});

t.test('a malformed task row is refused with its position', async (t) => {
  const s = JSON.parse(fixture.snapshot) as { cluster: { tasks: unknown[][] } };
  s.cluster.tasks[1] = s.cluster.tasks[1].slice(0, 5);
  t.throws(() => restored(JSON.stringify(s)), /snapshot: task row 1 is malformed/);
  const bad = JSON.parse(fixture.snapshot) as { cluster: { tasks: unknown[][] } };
  bad.cluster.tasks[0][7] = 99;
  t.throws(() => restored(JSON.stringify(bad)), /snapshot: task row 0 is malformed/, 'an unknown state');
});
