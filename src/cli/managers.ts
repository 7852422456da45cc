import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAddress } from '../manager/address.js';

/** The cluster file that `orch up` writes; the CLI reads it when no manager is given. */
export const CLUSTER_FILE = join('.orch', 'cluster.json');

/** Managers from --manager, else ORCH_MANAGER, else the cluster file. */
export function resolveManagers(flag: string | undefined): string[] {
  const raw = flag ?? process.env.ORCH_MANAGER;
  let list: string[];
  if (raw !== undefined) {
    list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  } else if (existsSync(CLUSTER_FILE)) {
    const f = JSON.parse(readFileSync(CLUSTER_FILE, 'utf8')) as { managers?: string[] };
    list = f.managers ?? [];
  } else {
    throw new Error('no manager given: use --manager host:port[,host:port...], set ORCH_MANAGER, or run "orch up"');
  }
  if (list.length === 0) throw new Error('--manager: the list of managers is empty');
  for (const a of list) parseAddress('--manager', a);
  return list;
}
