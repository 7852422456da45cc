// A cluster of manager processes that has committed a write (so its leader is ready), with a
// client; both are stopped at the test's teardown.
import type { OrchClient } from '../../src/client/client.js';
import { ProcessCluster, type ClusterOptions } from './cluster.js';

export async function readyCluster(t: { teardown(f: () => unknown): void }, opts: ClusterOptions): Promise<{ c: ProcessCluster; client: OrchClient }> {
  const c = await ProcessCluster.start(opts);
  const client = c.client({ deadlineMs: 20_000 });
  t.teardown(async () => {
    await client.close();
    await c.stop();
  });
  // Generous: on a loaded machine, starting three node processes alone can take seconds.
  await c.waitForLeader(30_000);
  await client.kvPut('ready', 'yes');
  return { c, client };
}
