// The Raft core is pure: no file under src/raft/core imports node:*, a package, or anything outside
// src/raft/core (the driver, storage and transport beside it do the I/O). Read from the sources, so a
// new import anywhere in the core fails here.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { specifiers } from '../helpers/imports.js';

// This file runs as build/test/unit/*.js; the sources are at the repository's root.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const core = join(root, 'src/raft/core');

/** Why `spec`, imported by the core file `file`, leaves the core; null if it stays inside. */
function outside(file: string, spec: string): string | null {
  if (!spec.startsWith('./') && !spec.startsWith('../')) return `${spec} is not a file of the core`;
  const target = normalize(join(dirname(file), spec));
  return target.startsWith(core + '/') ? null : `${spec} leaves src/raft/core`;
}

function violations(file: string, source: string): string[] {
  return specifiers(source)
    .map((s) => outside(file, s))
    .filter((v): v is string => v !== null);
}

t.test('the checker catches what it must', async (t) => {
  const f = join(core, 'x.ts');
  t.same(violations(f, "import { a } from './log.js';\nexport * from './types.js';\nimport type { B } from \"./ready.js\";"), [], 'core-relative imports pass');
  t.same(violations(f, "import { readFile } from 'node:fs';"), ['node:fs is not a file of the core']);
  t.same(violations(f, "import {\n  x,\n  y,\n} from 'fastify';"), ['fastify is not a file of the core'], 'multi-line import of a package');
  t.same(violations(f, "import type { RaftStorage } from '../storage.js';"), ['../storage.js leaves src/raft/core']);
  t.same(violations(f, "export { RaftNode } from '../node.js';"), ['../node.js leaves src/raft/core']);
  t.same(violations(f, "import 'node:crypto';"), ['node:crypto is not a file of the core'], 'side-effect import');
  t.same(violations(f, "const fs = await import('node:fs');"), ['node:fs is not a file of the core'], 'dynamic import');
  t.same(violations(f, 'const m = await import(name);'), ['<computed> is not a file of the core'], 'computed import');
  t.same(violations(f, "const z = require('zlib');"), ['zlib is not a file of the core']);
});

t.test('no file under src/raft/core imports anything outside it', async (t) => {
  const files = readdirSync(core).filter((n) => n.endsWith('.ts'));
  // The core's files as of this test: if the directory moved or emptied, the check below would pass vacuously.
  for (const name of ['raft.ts', 'log.ts', 'progress.ts', 'quorum.ts', 'conf-change.ts', 'types.ts', 'codec.ts', 'random.ts', 'ready.ts', 'read-index.ts']) {
    t.ok(files.includes(name), `${name} is in src/raft/core`);
  }
  for (const name of files) {
    const file = join(core, name);
    t.same(violations(file, readFileSync(file, 'utf8')), [], `${name} imports only the core`);
  }
});
