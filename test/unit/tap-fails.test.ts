// A failing test must make the test command fail: run tap on a deliberately failing test file, and
// (so that this test cannot pass for another reason) on a passing one, which must exit 0.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cluster.js';

function runTap(body: string): Promise<{ code: number; out: string }> {
  // A temporary dir with the repo's node_modules linked in: the file imports 'tap' from there, and
  // whatever tap writes beside the file goes away with the dir.
  const dir = mkdtempSync(join(tmpdir(), 'orch-tapfail-'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  const file = join(dir, 'case.test.mjs');
  writeFileSync(file, body);
  return new Promise((resolve) =>
    execFile(join(REPO_ROOT, 'node_modules', '.bin', 'tap'), ['--disable-coverage', '--allow-empty-coverage', file], { cwd: dir }, (err, stdout, stderr) => {
      rmSync(dir, { recursive: true, force: true });
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    }),
  );
}

t.test('tap exits non-zero when a test fails', async (t) => {
  const failing = await runTap("import t from 'tap';\nt.equal(1, 2, 'deliberately failing');\n");
  t.not(failing.code, 0, `tap exited with ${failing.code}`);
  t.match(failing.out, /not ok 1 - deliberately failing/, 'because the assertion failed, not because the file could not run');
  const passing = await runTap("import t from 'tap';\nt.equal(1, 1, 'passing');\n");
  t.equal(passing.code, 0, passing.code === 0 ? 'and exits 0 when it passes' : `a passing file failed too: ${passing.out.slice(-300)}`);
});
