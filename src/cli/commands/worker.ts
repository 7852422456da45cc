import type { Command } from 'commander';
import { parseAddress } from '../../api/address.js';
import { intOption } from '../parse.js';
import { joinTokenOf } from '../join-token.js';

export function workerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker: join the cluster and run its tasks as Docker containers')
    .requiredOption('--join <addrs>', 'comma-separated host:port of one or more managers')
    .requiredOption('--name <name>', 'this node\'s name (stays with its data dir)')
    .requiredOption('--data-dir <dir>', 'where the node keeps its identity and state')
    .option('--labels <k=v,...>', 'labels for placement constraints', '')
    .option('--docker-host <url>', 'the Docker engine (default: DOCKER_HOST or the default socket)')
    .option('--heartbeat-ms <n>', 'heartbeat period', intOption('--heartbeat-ms', 50), 1000)
    .option('--runtime <kind>', 'docker, or sim (runs nothing; for scale tests)', 'docker')
    .option('--sim-nodes <n>', 'with --runtime sim: how many nodes this process hosts', intOption('--sim-nodes', 1), 1)
    .option('--sim-cpu <n>', 'with --runtime sim: cpus per node', intOption('--sim-cpu', 1), 4)
    .option('--sim-memory <size>', 'with --runtime sim: memory per node', '8GiB')
    .option('--token <token>', 'the worker join token ("orch token worker"), needed on first start; prefer ORCH_JOIN_TOKEN or --token-file, which keep it out of the command line')
    .option('--token-file <file>', 'read the worker join token from this file (mode 0600)')
    .option('--insecure', 'the cluster runs with --insecure: plain HTTP, no certificate')
    .option('--listen <addr>', 'host:port to serve container logs on (default 127.0.0.1, a free port)')
    .option('--advertise <addr>', 'the address managers can reach this node at')
    .option('--pull-timeout <duration>', 'give up an image pull that makes no progress for this long (the task fails; the next one tries again)', '2m')
    .action(async (o: { token?: string; tokenFile?: string; insecure?: boolean; join: string; name: string; dataDir: string; labels: string; dockerHost?: string; heartbeatMs: number; listen?: string; advertise?: string; runtime: string; simNodes: number; simCpu: number; simMemory: string; pullTimeout: string }) => {
      if (o.runtime !== 'docker' && o.runtime !== 'sim') throw new Error(`--runtime: expected docker or sim, got ${JSON.stringify(o.runtime)}`);
      const { parseBytes, parseDuration } = await import('../../spec/units.js');
      const simMemory = parseBytes(o.simMemory);
      if (simMemory === null) throw new Error(`--sim-memory: expected a size like 8GiB, got ${JSON.stringify(o.simMemory)}`);
      const pullTimeoutMs = parseDuration(o.pullTimeout);
      if (!pullTimeoutMs) throw new Error(`--pull-timeout: expected a duration above 0 like 30s or 2m, got ${JSON.stringify(o.pullTimeout)}`);
      const join = o.join.split(',').map((s) => s.trim()).filter(Boolean);
      for (const a of join) parseAddress('--join', a);
      const labels: Record<string, string> = {};
      for (const kv of o.labels.split(',').filter(Boolean)) {
        const k = kv.indexOf('=');
        if (k <= 0) throw new Error(`--labels: expected key=value pairs, got ${JSON.stringify(kv)}`);
        labels[kv.slice(0, k)] = kv.slice(k + 1);
      }
      const { startWorker } = await import('../../worker/worker.js');
      const w = await startWorker({ insecure: o.insecure, token: joinTokenOf(o), join, name: o.name, dataDir: o.dataDir, labels, dockerHost: o.dockerHost, heartbeatMs: o.heartbeatMs, listen: o.listen, advertise: o.advertise, runtime: o.runtime, simNodes: o.simNodes, simCapacity: { cpu: o.simCpu, memory: simMemory, disk: 100 * 2 ** 30 }, pullTimeoutMs });
      const why = await new Promise<string | null>((resolve) => {
        const onSignal = () => void w.stop().then(() => resolve(null), () => resolve(null));
        process.once('SIGTERM', onSignal);
        process.once('SIGINT', onSignal);
        // Removed from the cluster, or replaced by another agent: exit non-zero with that line.
        void w.ended.then((line) => w.stop().then(() => resolve(line), () => resolve(line)));
      });
      if (why) throw new Error(why);
    });
}
