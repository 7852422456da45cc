// bin/orch, the installed command: it must hand orch's memory settings to node and exec it (so the
// pid a user or `orch up` starts is node's own), also when called through a symlink as npm installs it.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withoutLauncherSettings } from '../helpers/cluster.js';

const run = promisify(execFile);
const launcher = fileURLToPath(new URL('../../../bin/orch', import.meta.url));
const script = fileURLToPath(new URL('../../../bin/orch.js', import.meta.url));
// Without settings of the caller's own, so the defaults are what is checked.
const clean = withoutLauncherSettings(process.env);
/** A stand-in for node (a sh script of `body`) in a temporary dir that goes with the test. */
function fakeNode(t: { teardown(f: () => void): void }, body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'orch-launcher-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fake = join(dir, 'fake-node');
  writeFileSync(fake, `#!/bin/sh\n${body}\n`);
  chmodSync(fake, 0o755);
  return fake;
}

const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

t.test('through symlinks (as npm links it: relative, then absolute) it runs the real CLI', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-launcher-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, '.bin'));
  symlinkSync(launcher, join(dir, 'orch-abs'));
  symlinkSync('../orch-abs', join(dir, '.bin', 'orch'));
  const { stdout } = await run(join(dir, '.bin', 'orch'), ['--version'], { env: { ...clean, ORCH_NODE: process.execPath } });
  t.equal(stdout.trim(), version);
});

t.test('it execs node with the memory settings, the script and the arguments unchanged', async (t) => {
  // Reports what it was given, from the same process the launcher started.
  const fake = fakeNode(t, 'echo "pid=$$ mmap=$MALLOC_MMAP_THRESHOLD_ arenas=$MALLOC_ARENA_MAX"\nfor a in "$@"; do echo "arg=$a"; done');
  const child = execFile(launcher, ['manager', '--peers', 'a b'], { env: { ...clean, ORCH_NODE: fake } });
  const out = await new Promise<string>((resolve, reject) => {
    let s = '';
    child.stdout!.on('data', (d: Buffer) => (s += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`exit ${code}`))));
  });
  const lines = out.trim().split('\n');
  t.equal(lines[0], `pid=${child.pid} mmap=131072 arenas=2`, 'exec: the same pid, with the malloc settings');
  t.same(lines.slice(1), ['arg=--max-semi-space-size=8', 'arg=--heap-growing-percent=100', `arg=${realpathSync(script)}`, 'arg=manager', 'arg=--peers', 'arg=a b']);
});

t.test('settings already in the environment win', async (t) => {
  const fake = fakeNode(t, 'echo "mmap=$MALLOC_MMAP_THRESHOLD_ arenas=$MALLOC_ARENA_MAX $1 $2"');
  const env = { ...process.env, ORCH_NODE: fake, MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_ARENA_MAX: '4', ORCH_HEAP_GROWING_PERCENT: '0', ORCH_SEMI_SPACE_MIB: '0' };
  const { stdout } = await run(launcher, [], { env });
  t.equal(stdout.trim(), 'mmap=65536 arenas=4 --max-semi-space-size=0 --heap-growing-percent=0');
});
