import { Option, type Command } from 'commander';
import type { Placement } from '../../api/spec.js';
import { bytesOption, durationOption, intOption } from '../parse.js';
import { joinTokenOf } from '../join-token.js';
import { withClient, type ClientOpts } from '../client.js';

/**
 * Exit codes of a manager that stopped itself after a fatal error (it logged one line naming it):
 * a failed disk write (sysexits' EX_IOERR), or a state machine that threw (EX_SOFTWARE).
 */
export const EXIT_DISK_FAILED = 74;
export const EXIT_APPLY_FAILED = 70;

export function managerCommand(program: Command): void {
  const manager = program
    .command('manager')
    .description('run a manager replica (Raft over HTTP, state in LevelDB); "manager remove ID" removes one')
    .option('--listen <addr>', 'host:port to serve the API and Raft on (required)')
    .option('--peers <addrs>', 'a new cluster: comma-separated host:port of every manager, this one included')
    .option('--join <addrs>', 'join a running cluster through one of its managers: it catches up as a learner, then votes')
    .option('--data-dir <dir>', 'where the log, snapshots and identity are kept (required)')
    .option('--advertise <addr>', 'the address peers reach this manager at (default: --listen)')
    .option('--heartbeat-ms <n>', 'Raft heartbeat interval', intOption('--heartbeat-ms'), 100)
    .option('--election-ms <n>', 'Raft election timeout (randomized up to twice this)', intOption('--election-ms'), 1000)
    .option('--snapshot-every <n>', 'snapshot and compact the log every n applied entries', intOption('--snapshot-every'), 50000)
    .option('--keep-entries <n>', 'entries kept before a snapshot for followers a little behind', intOption('--keep-entries'), 5000)
    .option('--heap-trim-mib <n>', 'once the log goes quiet after a burst, run a full collection if the heap used is over this and has grown by half since the last (0: never)', intOption('--heap-trim-mib', 0), 64)
    .option('--worker-heartbeat-ms <n>', 'the workers\' heartbeat period', intOption('--worker-heartbeat-ms', 10), 1000)
    .option('--worker-missed <n>', 'heartbeats a worker may miss before it is declared down', intOption('--worker-missed', 1), 3)
    .option('--scheduler <strategy>', 'placement: spread (default), binpack, epvm or round-robin', 'spread')
    .option('--log-level <level>', 'fatal|error|warn|info|debug', 'info')
    .option('--allow-privileged', 'let services ask for privileged mode, extra capabilities and host paths (refused otherwise)')
    .option('--insecure', 'plain HTTP and no authentication, on loopback addresses only: for development')
    .option('--token <token>', 'the manager join token ("orch token manager"), to join an existing cluster on first start; prefer ORCH_JOIN_TOKEN or --token-file, which keep it out of the command line')
    .option('--token-file <file>', 'read the manager join token from this file (mode 0600)')
    .option('--tokens-file <file>', 'when this start creates a cluster: also write its tokens to this file (mode 0600)')
    .addOption(new Option('--cert-ttl-ms <n>', 'lifetime of node certificates (default 90 days); short ones are for testing renewal').argParser(intOption('--cert-ttl-ms', 1000)).hideHelp())
    .option('--node-remove-after <duration>', 'remove a node from the state once it has been down this long (it joins again as a new node); 0: never', durationOption('--node-remove-after'), 86_400_000)
    .option('--rate-limit-token <n>', 'writes a second one API token may make through this manager (429 past it); 0: no limit', intOption('--rate-limit-token'), 10_000)
    .option('--rate-limit-node <n>', 'writes a second one worker node may make through this manager; 0: no limit', intOption('--rate-limit-node'), 100)
    .option('--max-event-subscribers <n>', 'event streams (orch events) this manager serves at once', intOption('--max-event-subscribers', 1), 256)
    .option('--event-buffer <size>', 'what an event stream\'s client may leave unread before events wait for it (it is dropped if it falls behind the kept events, or reads nothing for 30 s)', bytesOption('--event-buffer'), 1 << 20)
    .option('--request-timeout <duration>', 'a request must arrive whole within this', durationOption('--request-timeout'), 30_000)
    .option('--force-new-cluster', 'the managers\' quorum is lost for good: start this survivor as a new one-manager cluster from its own log (--peers must name only this manager)')
    .addOption(new Option('--chaos', 'fault injection for the chaos suite (PUT /chaos/faults); never in production').hideHelp())
    .action(async (o: { join?: string; peers?: string; insecure?: boolean; token?: string; tokenFile?: string; tokensFile?: string; certTtlMs?: number; chaos?: boolean; forceNewCluster?: boolean; allowPrivileged?: boolean; listen: string; dataDir: string; advertise?: string; heartbeatMs: number; electionMs: number; snapshotEvery: number; keepEntries: number; heapTrimMib: number; logLevel: string; workerHeartbeatMs: number; workerMissed: number; scheduler: Placement; nodeRemoveAfter: number; rateLimitToken: number; rateLimitNode: number; maxEventSubscribers: number; eventBuffer: number; requestTimeout: number }) => {
      // Loaded only here: fastify and LevelDB are not needed by the client commands.
      const { startManager } = await import('../../manager/manager.js');
      // Checked here, not by commander: "orch manager remove ID" must not ask for them.
      if (!o.listen) throw new Error("orch manager: required option '--listen <addr>' not specified");
      if (!o.dataDir) throw new Error("orch manager: required option '--data-dir <dir>' not specified");
      if (o.peers === undefined && o.join === undefined) throw new Error('orch manager: give --peers (a new cluster) or --join (a running one)');
      let removed = false;
      const { StorageError } = await import('../../raft/storage.js');
      const { nodeRemoveAfter, eventBuffer, requestTimeout, ...rest } = o;
      const m = await startManager({
        ...rest,
        nodeRemoveAfterMs: nodeRemoveAfter,
        eventBufferBytes: eventBuffer,
        requestTimeoutMs: requestTimeout,
        token: joinTokenOf(o),
        peers: o.peers?.split(',') ?? [],
        onRemoved: () => (removed = true),
        // Fail-stop: the manager logged the error and stopped serving; the process goes now, whatever
        // (a hung disk, a long-poll) would otherwise keep it alive.
        onFatal: (err) => process.exit(err instanceof StorageError ? EXIT_DISK_FAILED : EXIT_APPLY_FAILED),
      });
      await new Promise<void>((resolve) => {
        // Removed from the cluster: the manager has stopped; so does the process.
        const poll = setInterval(() => removed && (clearInterval(poll), resolve()), 200);
        const onSignal = (sig: string) => {
          m.app.log.info(`${sig}: stopping`);
          m.stop().then(resolve, (err: Error) => {
            console.error(`orch manager: stop failed: ${err.message}`);
            resolve();
          });
        };
        process.once('SIGTERM', () => {
          clearInterval(poll);
          onSignal('SIGTERM');
        });
        process.once('SIGINT', () => onSignal('SIGINT'));
      });
    });

  manager
    .command('remove <id>')
    .description('remove a manager from the cluster (the leader hands leadership over first if it is the one); its id is never reused')
    .option('--manager <addrs>', 'managers to talk to')
    .option('--token <token>', 'API token (default: ORCH_TOKEN)')
    .action(async (idText: string, o: ClientOpts) => {
      const id = Number(idText);
      if (!Number.isSafeInteger(id) || id < 1) throw new Error(`orch manager remove: the id must be a positive integer (see orch cluster), got ${JSON.stringify(idText)}`);
      const res = await withClient(o, (c) => c.removeManager(id));
      console.log(`removed manager ${res.removed}${res.address ? ` (${res.address})` : ''}; voters now ${res.conf.voters.join(',')}${res.conf.learners.length ? `, learners ${res.conf.learners.join(',')}` : ''}`);
    });
}
