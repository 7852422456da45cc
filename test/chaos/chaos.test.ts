// The short chaos round of `npm test`: 2 minutes of faults (fixed seed, at least 10 leader kills)
// on 3 managers and 2 workers under key/value and service load, managers replaced now and then
// (removed with the API, a new one joined); every check of the long run must
// pass. The report lands in a temp dir named in the output.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChaos } from '../../scripts/chaos/run.js';

t.test('a 2-minute chaos round: histories linearizable, nothing acknowledged lost, everything converges', async (t) => {
  const outDir = mkdtempSync(join(tmpdir(), 'orch-chaos-'));
  const s = await runChaos({ durationMs: 120_000, managers: 3, workers: 2, seed: 7, outDir, gapMs: [1000, 2500], replaceOneIn: 4, log: (l) => t.comment(l) });
  t.comment(`report: ${join(outDir, 'timeline.html')}`);
  for (const c of s.checks) t.ok(c.ok, `${c.name}: ${c.detail}`);
  t.ok(s.checks.length >= 5, 'every check ran');
  t.ok((s.faults['kill-leader'] ?? 0) >= 10, `${s.faults['kill-leader'] ?? 0} leader kills (at least 10)`);
  t.ok((s.faults['replace-manager'] ?? 0) >= 1, `${s.faults['replace-manager'] ?? 0} managers replaced (removed, then a new one joined)`);
  t.ok(s.leaderChanges >= 10, `${s.leaderChanges} leader changes seen`);
  t.ok(s.outcomes.ok > 500, `${s.outcomes.ok} operations acknowledged`);
});
