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

t.test('orch worker: a bad --pull-timeout is named before anything starts', async (t) => {
  for (const bad of ['soon', '0', '0s']) {
    const err = await exec(process.execPath, [bin, 'worker', '--join', '127.0.0.1:1', '--name', 'w', '--data-dir', '/nonexistent/orch-test', '--insecure', '--pull-timeout', bad]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    t.ok(err, `--pull-timeout ${bad}: exits non-zero`);
    t.match(err!.stderr, `--pull-timeout: expected a duration above 0 like 30s or 2m, got "${bad}"`);
  }
});

t.test('the CLI starts without the spec parser or the table printer: only `orch start` and tables load them', async (t) => {
  // Loading them took about 150 of the 235 ms of imports before any command ran (`orch run --wait`
  // paid it too). A child process, so that nothing this test file imported counts.
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const spec = fileURLToPath(new URL('../../src/spec/normalize.js', import.meta.url));
  const script = `
    import { createRequire } from 'node:module';
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => /node_modules\\/(yaml|@sinclair\\/typebox|cli-table3)\\//.test(k)).length;
    const { buildProgram } = await import(${JSON.stringify(main)});
    buildProgram();
    const before = loaded();
    await import(${JSON.stringify(spec)});
    console.log(JSON.stringify({ before, after: loaded() }));`;
  const { stdout } = await exec(process.execPath, ['--input-type=module', '-e', script]);
  const { before, after } = JSON.parse(stdout) as { before: number; after: number };
  t.equal(before, 0, 'none of yaml, typebox or cli-table3 is loaded with the CLI');
  t.ok(after > 0, `the spec parser loads them when asked (${after} files): the check sees them`);
});
