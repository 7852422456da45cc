// The chaos report must render the histories a 10-minute run records: a run with over 100,000
// operations once crashed the report (Math.max over a spread array overflows the call stack).
import t from 'tap';
import { timelineHtml, summaryText, type Summary } from '../../scripts/chaos/report.js';
import type { Recorded } from '../../scripts/chaos/history.js';
import type { Sample } from '../../scripts/chaos/observer.js';

const summary: Summary = {
  seed: 1,
  managers: 3,
  workers: 2,
  durationMs: 600_000,
  outcomes: { ok: 300_000, unknown: 1, fail: 1 },
  faults: { 'kill-leader': 2 },
  leaderChanges: 2,
  longestUnavailableMs: 900,
  checks: [{ name: 'service history linearizable', ok: true, detail: 'fine' }],
  ok: true,
};

t.test('a 300,000-operation history renders, with its failures and unknowns drawn', async (t) => {
  const ops: Recorded[] = [];
  for (let i = 0; i < 300_000; i++) {
    const outcome = i === 5 ? 'fail' : i === 7 ? 'unknown' : 'ok';
    ops.push({ kind: 'kv', key: 'k0', client: i % 8, outcome, call: i * 2, ret: i * 2 + 1, input: { op: 'get' }, output: { value: null, version: null } });
  }
  const samples: Sample[] = [];
  for (let at = 0; at < 610_000; at += 250) samples.push({ at, views: [{ role: at < 300_000 ? 'leader' : 'follower', term: at < 300_000 ? 1 : 2, leader: 1 }, { role: 'follower', term: 1, leader: 1 }, { role: 'down', term: 0, leader: null }] });
  const html = timelineHtml(summary, samples, [{ kind: 'kill-leader', target: 'm1', start: 300_000, end: 301_000 }], ops);
  t.match(html, /<svg[^>]*>/, 'an SVG timeline');
  t.match(html, /#d62728"\/>/, 'the failed operation is drawn');
  t.match(html, /#ff7f0e"\/>/, 'the unknown one too');
  // Ok operations are thinned to about 20,000 dots so the page stays small.
  const dots = html.match(/<circle /g)?.length ?? 0;
  t.ok(dots > 15_000 && dots < 25_000, `about 20,000 dots drawn (${dots})`);
  t.match(html, /600s<\/text>/, 'the time axis reaches the end of the run');
});

t.test('the summary names every check and the result', async (t) => {
  const text = summaryText({ ...summary, ok: false, checks: [...summary.checks, { name: 'managers converge', ok: false, detail: 'digests differ' }] });
  t.match(text, /PASS service history linearizable: fine/);
  t.match(text, /FAIL managers converge: digests differ/);
  t.match(text, /result: FAIL$/);
});
