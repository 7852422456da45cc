import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

const exec = promisify(execFile);
const bin = fileURLToPath(new URL('../../../bin/orch.js', import.meta.url));
const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

t.test('orch --version prints the package version', async (t) => {
  const { stdout } = await exec(process.execPath, [bin, '--version']);
  t.equal(stdout.trim(), version);
});

t.test('orch --help describes the tool', async (t) => {
  const { stdout } = await exec(process.execPath, [bin, '--help']);
  t.match(stdout, /Usage: orch/);
  t.match(stdout, /container orchestrator/);
});

t.test('an unknown command fails with a one-line reason on stderr', async (t) => {
  const err = await exec(process.execPath, [bin, 'frobnicate']).then(
    () => null,
    (e: { code: number; stderr: string }) => e,
  );
  t.ok(err, 'exits non-zero');
  t.not(err!.code, 0);
  t.match(err!.stderr, /unknown command 'frobnicate'|too many arguments/);
});

t.test('orch manager: a bad --heap-trim-mib is named', async (t) => {
  const err = await exec(process.execPath, [bin, 'manager', '--listen', '127.0.0.1:1', '--peers', '127.0.0.1:1', '--data-dir', '/nonexistent/orch-test', '--heap-trim-mib', '-5']).then(
    () => null,
    (e: { code: number; stderr: string }) => e,
  );
  t.ok(err, 'exits non-zero');
  t.match(err!.stderr, /--heap-trim-mib: expected an integer >= 0, got "-5"/);
});
