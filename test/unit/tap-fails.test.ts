// A failing test must make the test command fail: run tap on a deliberately failing test file.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cluster.js';

t.test('tap exits non-zero when a test fails', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-tapfail-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'fails.test.mjs');
  writeFileSync(file, "import t from 'tap';\nt.equal(1, 2, 'deliberately failing');\n");
  const code = await new Promise<number>((resolve) =>
    execFile(join(REPO_ROOT, 'node_modules', '.bin', 'tap'), ['--disable-coverage', '--allow-empty-coverage', file], { cwd: REPO_ROOT, env: { ...process.env, NODE_PATH: join(REPO_ROOT, 'node_modules') } }, (err) =>
      resolve(err ? ((err as { code?: number }).code ?? 1) : 0),
    ),
  );
  t.not(code, 0, `tap exited with ${code}`);
});
