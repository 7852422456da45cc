// A cluster on the real Docker engine for integration tests: 3 managers and N workers as processes,
// with waiting helpers that poll for a condition (an event seen through the API or `docker ps`).
import type Docker from 'dockerode';
import type { Task as TaskInfo } from '../../src/api/tasks.js';
import type { OrchClient } from '../../src/client/client.js';
import { execFile } from 'node:child_process';
import { ORCH_BIN, ProcessCluster } from './cluster.js';
import { dockerEngine } from './docker-engine.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls f every 50 ms until it returns something truthy; throws after ms with the last error. */
export async function until<T>(f: () => Promise<T | false | undefined | null>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(50);
  }
  throw new Error(`condition not met within ${ms} ms${last ? `: ${(last as Error).message}` : ''}`);
}

type Tap = { teardown(f: () => unknown): void };

/**
 * Starts 3 managers and `workers` workers (w1, w2, ...) on the engine, each with `workerArgs` added
 * to its command line; removes the service's containers at the end.
 */
export async function dockerCluster(t: Tap, service: string, workers = 2, workerArgs: string[] = []) {
  const { docker, host } = await dockerEngine();
  const c = await ProcessCluster.start({ managers: 3 });
  const client = c.client({ deadlineMs: 20_000 });
  t.teardown(async () => {
    await client.close();
    await c.stop();
    // Only what this test started: containers of its service.
    for (const x of await docker.listContainers({ all: true, filters: { label: [`orch.service=${service}`] } })) await docker.getContainer(x.Id).remove({ force: true });
  });
  // Generous: on a loaded shared machine a manager process alone can take 10 s to start.
  await c.waitForLeader(60_000);
  for (let k = 1; k <= workers; k++) c.startWorker(`w${k}`, host, 1000, workerArgs);
  await until(async () => (await client.nodes()).filter((n) => n.status === 'ready').length === workers, 60_000);
  return { docker, host, c, client };
}

export async function containersOf(docker: Docker, service: string, all = false) {
  return docker.listContainers({ all, filters: { label: [`orch.service=${service}`] } });
}

/** Waits until exactly n of the service's tasks are running, and returns them. */
export async function runningTasks(client: OrchClient, service: string, n: number, ms = 15_000): Promise<TaskInfo[]> {
  return until(async () => {
    const ts = (await client.tasks({ service })).filter((x) => x.state === 'running');
    return ts.length === n ? ts : false;
  }, ms);
}

/** Runs the orch CLI against the cluster's managers (named in ORCH_MANAGER). */
export function orchCli(managers: string[], args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [ORCH_BIN, ...args], { env: { ...process.env, ORCH_MANAGER: managers.join(',') }, timeout: 300_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}
