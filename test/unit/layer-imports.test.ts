// The layers' import rules, read from the sources: the worker, security, client, scheduler and spec
// layers never import from src/manager (the contract they share is src/api), and src/api imports
// nothing but TypeBox and itself, so that every layer may import it.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { specifiers } from '../helpers/imports.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** The repository-relative target of a relative specifier, or the package's name. */
function target(file: string, spec: string): string {
  return spec.startsWith('.') ? relative(root, normalize(join(root, dirname(file), spec))) : spec;
}

for (const layer of ['src/worker', 'src/security', 'src/client', 'src/scheduler', 'src/spec']) {
  t.test(`no file under ${layer} imports from src/manager`, async (t) => {
    const files = sources(layer);
    t.ok(files.length > 0, `${layer} has sources`);
    const bad = files.flatMap((f) => specifiers(readFileSync(join(root, f), 'utf8')).filter((s) => target(f, s).startsWith('src/manager')).map((s) => `${f} imports ${s}`));
    t.same(bad, [], `${files.length} files`);
  });
}

t.test('src/api imports only TypeBox and src/api', async (t) => {
  const files = sources('src/api');
  t.ok(files.length >= 5, 'the contract has its files');
  const bad = files.flatMap((f) => specifiers(readFileSync(join(root, f), 'utf8')).filter((s) => s !== '@sinclair/typebox' && !target(f, s).startsWith('src/api/')).map((s) => `${f} imports ${s}`));
  t.same(bad, []);
});
