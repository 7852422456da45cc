// A node's data dir holds secrets: a manager's Raft log carries the cluster's CA key and token
// secrets, and every data dir holds its node's TLS key. So the dir is 0700 and nothing in it is
// readable by group or others, for managers and workers alike.
import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Creates `dir` (0700) or makes an existing one private, and sets the process's umask to 077:
 * LevelDB creates its files with mode 0644 minus the umask and takes no mode of its own, so the
 * umask is the only way its files are born private. Files left readable by earlier versions are
 * tightened too.
 */
export function makePrivateDataDir(dir: string): void {
  process.umask(0o077);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    tighten(dir, 0);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`--data-dir ${dir}: cannot create it or make it private (0700) (${e.code ?? e.message}${e.path && e.path !== dir ? ` on ${e.path}` : ''}); it must be a directory this user owns`);
  }
}

/** Strips group and other bits below `dir` (a data dir is a few levels deep; symlinks are left alone). */
function tighten(dir: string, depth: number): void {
  if (depth > 8) return;
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, ent.name);
    if (ent.isSymbolicLink()) continue;
    const mode = lstatSync(path).mode & 0o777;
    if (mode & 0o077) chmodSync(path, mode & 0o700);
    if (ent.isDirectory()) tighten(path, depth + 1);
  }
}
