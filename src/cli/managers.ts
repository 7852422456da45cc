import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAddress } from '../api/address.js';

/** The cluster file that `orch up` writes; the CLI reads it when no manager is given. */
export const CLUSTER_FILE = join('.orch', 'cluster.json');

function clusterFile(): { managers?: string[]; token?: string } | null {
  if (!existsSync(CLUSTER_FILE)) return null;
  try {
    return JSON.parse(readFileSync(CLUSTER_FILE, 'utf8')) as { managers?: string[]; token?: string };
  } catch (err) {
    throw new Error(`${CLUSTER_FILE}: not valid JSON (${(err as Error).message})`);
  }
}

/** Managers from --manager, else ORCH_MANAGER, else the cluster file. */
export function resolveManagers(flag: string | undefined): string[] {
  const raw = flag ?? process.env.ORCH_MANAGER;
  let list: string[];
  if (raw !== undefined) {
    list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  } else {
    const f = clusterFile();
    if (!f) throw new Error('no manager given: use --manager host:port[,host:port...], set ORCH_MANAGER, or run "orch up"');
    list = f.managers ?? [];
  }
  if (list.length === 0) throw new Error('--manager: the list of managers is empty');
  for (const a of list) parseAddress('--manager', a);
  return list;
}

/** The API token from --token, else ORCH_TOKEN, else the cluster file; none for an --insecure cluster. */
export function resolveToken(flag: string | undefined): string | undefined {
  const t = flag ?? process.env.ORCH_TOKEN;
  if (t !== undefined) return t.trim() || undefined;
  return clusterFile()?.token;
}
