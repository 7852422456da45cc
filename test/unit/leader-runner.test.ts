// The duty runner (src/manager/leader/runner.ts): leader duties run only while this manager is the
// ready leader, manager duties from start to stop; an interval duty never overlaps itself and skips
// rounds the moment the node says it no longer leads; stopping waits for work in flight, but only so
// long. Driven by leadership reports as RaftNode's onReadyLeader gives them.
import t from 'tap';
import { DutyRunner, type IntervalDuty } from '../../src/manager/leader/runner.js';

/** Resolves once f() holds, or throws after ms (polling every 5 ms). */
async function until(f: () => boolean, ms = 3000, what = 'a condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** An interval duty that counts its rounds and begins, each round's work held open until released. */
function counting(name: string, everyMs = 5) {
  const d = {
    name,
    everyMs,
    begins: 0,
    runs: 0,
    /** Rounds running at once, at most (must stay 1). */
    maxOverlap: 0,
    open: 0,
    hold: false,
    release: [] as (() => void)[],
    begin() {
      d.begins++;
    },
    run() {
      d.runs++;
      d.open++;
      d.maxOverlap = Math.max(d.maxOverlap, d.open);
      if (!d.hold) {
        d.open--;
        return Promise.resolve();
      }
      return new Promise<void>((r) => d.release.push(() => (d.open--, r())));
    },
  };
  return d satisfies IntervalDuty;
}

t.test('leader duties run only between a ready-leader report and its loss; manager duties throughout', async (t) => {
  let ready = false;
  const lead = counting('lead');
  const always = counting('always');
  const r = new DutyRunner({ leader: [lead], always: [always], isReadyLeader: () => ready });
  t.teardown(() => r.stop());
  r.start();
  await until(() => always.runs >= 3, 3000, 'the manager duty');
  t.equal(lead.runs, 0, 'no leader duty round before leadership');
  t.equal(r.isLeading, false);
  ready = true;
  r.leadership(4);
  await until(() => lead.runs >= 3, 3000, 'the leader duty');
  t.equal(lead.begins, 1, 'begun once for the term');
  ready = false;
  r.leadership(null);
  await until(() => !r.isLeading, 3000, 'the leader duties to stop');
  const after = lead.runs;
  const alwaysAfter = always.runs;
  await until(() => always.runs >= alwaysAfter + 3, 3000, 'the manager duty after leadership went');
  t.equal(lead.runs, after, 'no leader duty round after leadership was lost');
});

t.test('the runner checks leadership before every round, not only at the reports', async (t) => {
  let ready = true;
  const lead = counting('lead');
  const r = new DutyRunner({ leader: [lead], always: [], isReadyLeader: () => ready });
  t.teardown(() => r.stop());
  r.leadership(2); // before start: remembered, acted on at start
  r.start();
  await until(() => lead.runs >= 2, 3000, 'rounds after a leadership reported before start');
  // Lost in the middle of a Raft turn: the node says so before its end-of-turn report.
  ready = false;
  await new Promise((res) => setTimeout(res, 20));
  const n = lead.runs;
  await new Promise((res) => setTimeout(res, 50));
  t.equal(lead.runs, n, 'no rounds while the node says it is not the ready leader');
});

t.test('an interval duty never overlaps itself; stop waits for its round in flight', async (t) => {
  const lead = counting('lead');
  lead.hold = true;
  const r = new DutyRunner({ leader: [lead], always: [], isReadyLeader: () => true });
  r.start();
  r.leadership(3);
  await until(() => lead.runs === 1, 3000, 'the first round');
  await new Promise((res) => setTimeout(res, 50)); // ten intervals
  t.equal(lead.runs, 1, 'no second round while the first is in flight');
  let stopped = false;
  const stopping = r.stop().then(() => (stopped = true));
  await new Promise((res) => setTimeout(res, 30));
  t.equal(stopped, false, 'stop waits for the round in flight');
  lead.release.shift()!();
  await stopping;
  t.equal(stopped, true, 'and returns once it ended');
  t.equal(lead.maxOverlap, 1);
});

t.test('stop is bounded: a round that never ends is logged and left behind', async (t) => {
  const lead = counting('stuck');
  lead.hold = true;
  const logged: string[] = [];
  const r = new DutyRunner({ leader: [lead], always: [], isReadyLeader: () => true, stopTimeoutMs: 100, log: (m) => logged.push(m) });
  r.start();
  r.leadership(3);
  await until(() => lead.runs === 1, 3000, 'the first round');
  const t0 = Date.now();
  await r.stop();
  const took = Date.now() - t0;
  t.ok(took >= 90 && took < 2000, `stop returned after the bound (${took} ms)`);
  t.match(logged.join('\n'), /duty stuck still had work in flight 100 ms after it was stopped/);
});

t.test('a new term restarts the leader duties; nothing starts after stop', async (t) => {
  const lead = counting('lead');
  const started: number[] = [];
  const stops: number[] = [];
  const custom = {
    name: 'custom',
    start: () => {
      started.push(Date.now());
      return async () => void stops.push(Date.now());
    },
  };
  const r = new DutyRunner({ leader: [lead, custom], always: [], isReadyLeader: () => true });
  r.start();
  r.leadership(5);
  await until(() => started.length === 1, 3000, 'the first start');
  r.leadership(7);
  await until(() => started.length === 2, 3000, 'the restart for term 7');
  t.equal(stops.length, 1, 'the duties of term 5 were stopped first');
  t.equal(lead.begins, 2, 'the interval duty began again');
  await r.stop();
  t.equal(stops.length, 2, 'stop stops the running ones');
  r.leadership(8);
  await new Promise((res) => setTimeout(res, 20));
  t.equal(started.length, 2, 'a leadership reported after stop starts nothing');
  t.throws(() => r.start(), /started twice/);
});
