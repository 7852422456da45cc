// The file `orch up` writes (<dir>/cluster.json, mode 0600): where the managers are, the admin
// token, and exactly what `up` started (pids, the engine), so that `orch down` stops only that.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

export interface UpProcess {
  pid: number;
  role: 'manager' | 'worker';
  name: string;
  dataDir: string;
  log: string;
}

export interface ClusterFile {
  managers: string[];
  token: string;
  readonlyToken: string;
  dockerHost: string;
  /** Whether `up` started the Docker engine (then `down` stops it). */
  engineStarted: boolean;
  processes: UpProcess[];
  createdAt: string;
}

export function readClusterFile(path: string): ClusterFile | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ClusterFile;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message}); remove it after stopping its processes by hand`);
  }
}

export function writeClusterFile(path: string, f: ClusterFile): void {
  writeFileSync(path, JSON.stringify(f, null, 2) + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Whether `pid` is still the orch process `up` started (a pid may be reused by another program). */
export function isOurs(p: UpProcess): boolean {
  try {
    const cmd = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0');
    return cmd.includes(p.role) && cmd.includes(p.dataDir);
  } catch {
    return false;
  }
}

/**
 * Whether a process `up` started has exited. Not `!isOurs(p)`: while the launcher execs node, the
 * process's /proc cmdline can read empty for a moment, which made a starting worker look dead.
 */
export function hasExited(p: UpProcess): boolean {
  try {
    process.kill(p.pid, 0);
  } catch {
    return true;
  }
  try {
    // A zombie (exited, not yet reaped): the state letter follows the ")" that ends the command name.
    const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}
