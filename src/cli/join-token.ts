// Where `orch manager` and `orch worker` take their join token from: --token-file (a file only its
// owner may read), ORCH_JOIN_TOKEN, or --token. The first two keep the secret out of the process's
// command line, which every user of the machine can read in /proc/<pid>/cmdline and `ps`.
import { readFileSync, statSync } from 'node:fs';

export interface JoinTokenOptions {
  token?: string;
  tokenFile?: string;
}

export function joinTokenOf(o: JoinTokenOptions, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (o.tokenFile !== undefined && o.token !== undefined) throw new Error('--token and --token-file: give one of them, not both');
  if (o.tokenFile !== undefined) return readTokenFile(o.tokenFile);
  const t = o.token ?? env.ORCH_JOIN_TOKEN;
  return t?.trim() || undefined;
}

function readTokenFile(path: string): string {
  let mode: number;
  let text: string;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`--token-file ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if ((mode & 0o077) !== 0) throw new Error(`--token-file ${path}: other users may read it (mode ${(mode & 0o777).toString(8)}); a token file must be readable by its owner only: chmod 600 ${path}`);
  const token = text.trim();
  if (!token) throw new Error(`--token-file ${path}: the file is empty; it should hold the join token ("orch token worker|manager --quiet" prints one)`);
  return token;
}
