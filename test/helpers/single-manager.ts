// A one-manager cluster in this process, for API tests through fastify.inject.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startManager, type Manager, type ManagerOptions } from '../../src/manager/manager.js';
import { freePort } from './cluster.js';

/** Starts it (--insecure unless `extra` says otherwise), waits until it leads with its first entry committed, and stops it at teardown. */
export async function singleManager(t: { teardown(f: () => unknown): void }, extra: Partial<ManagerOptions> = {}): Promise<Manager> {
  const dir = mkdtempSync(join(tmpdir(), 'orch-single-'));
  const addr = `127.0.0.1:${await freePort()}`;
  const m = await startManager({ listen: addr, peers: [addr], dataDir: dir, logLevel: 'error', electionMs: 200, heartbeatMs: 20, insecure: true, ...extra });
  t.teardown(async () => {
    await m.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  for (let k = 0; k < 300 && !m.node.isReadyLeader(); k++) await new Promise((r) => setTimeout(r, 10));
  return m;
}
