// Containers of an old identity of this worker. A worker whose data dir was wiped joins under a new
// node id; the containers it ran under the old id (labelled orch.node=OLD) would run on, unknown to
// anyone: the cluster replaced their tasks when the old node went down or was removed. Every
// container also carries the worker's name and the absolute path of its data dir, and a worker
// removes, at start, those with its name and data dir but another node id.
//
// Why both labels and not the name alone: workers of several clusters may share one Docker engine
// (tests do, with names like w1), and only one process at a time can hold a data dir (its LevelDB is
// locked), so a container with this data dir's path and this name is one this worker started. A copy
// of the data dir elsewhere has another path, and never matches.
import { resolve } from 'node:path';
import type Docker from 'dockerode';

export const NAME_LABEL = 'orch.node-name';
export const DATA_DIR_LABEL = 'orch.data-dir';

/** The labels that tie a container to the worker that started it. */
export function ownerLabels(name: string, dataDir: string): Record<string, string> {
  return { [NAME_LABEL]: name, [DATA_DIR_LABEL]: resolve(dataDir) };
}

/**
 * Stops and removes the containers of this worker's earlier identities (its name and data dir,
 * another node id); returns how many. Call it once the managers accepted this worker's
 * registration: the name is then not another live node's.
 */
export async function removeOldIdentities(docker: Docker, o: { nodeId: string; name: string; dataDir: string; log: (m: string) => void }): Promise<number> {
  const labels = ownerLabels(o.name, o.dataDir);
  const found = await docker.listContainers({ all: true, filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) } });
  const old = found.filter((c) => c.Labels['orch.node'] !== o.nodeId);
  await Promise.all(
    old.map(async (c) => {
      try {
        await docker.getContainer(c.Id).remove({ force: true });
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) o.log(`could not remove container ${c.Id.slice(0, 12)} of old node id ${c.Labels['orch.node']}: ${(err as Error).message}`);
      }
    }),
  );
  if (old.length) o.log(`removed ${old.length} container(s) this worker ran under an old node id (${[...new Set(old.map((c) => c.Labels['orch.node']))].join(', ')})`);
  return old.length;
}
