import { InvalidArgumentError, type Command } from 'commander';
import { withClient, type ClientOpts } from '../client.js';
import type { ClusterSettings } from '../../client/client.js';
import { printJson, printTable } from '../output.js';
import { intOption } from '../parse.js';

export function kvCommand(program: Command): void {
  const kv = program.command('kv').description('read and write the replicated key/value store');
  kv.command('set <key> <value>')
    .description('set a key (with --cas, only if its version matches; --cas 0: only if absent)')
    .option('--cas <version>', 'expected current version', intOption('--cas'))
    .option('--manager <addrs>', 'managers to talk to').option('--token <token>', 'API token (default: ORCH_TOKEN)')
    .option('--json', 'machine-readable output')
    .action(async (key: string, value: string, o: ClientOpts & { cas?: number }) => {
      const item = await withClient(o, (c) => c.kvPut(key, value, { cas: o.cas }));
      if (o.json) printJson(item);
      else console.log(`${item.key} = ${item.value} (version ${item.version})`);
    });
  kv.command('get <key>')
    .description('read a key (linearizable unless --stale)')
    .option('--stale', 'read this manager\'s copy without confirming with the leader')
    .option('--manager <addrs>', 'managers to talk to').option('--token <token>', 'API token (default: ORCH_TOKEN)')
    .option('--json', 'machine-readable output')
    .action(async (key: string, o: ClientOpts & { stale?: boolean }) => {
      const item = await withClient(o, (c) => c.kvGet(key, { stale: o.stale }));
      if (o.json) printJson(item);
      else console.log(item.value);
    });
  kv.command('rm <key>')
    .description('delete a key')
    .option('--cas <version>', 'expected current version', intOption('--cas'))
    .option('--manager <addrs>', 'managers to talk to').option('--token <token>', 'API token (default: ORCH_TOKEN)')
    .option('--json', 'machine-readable output')
    .action(async (key: string, o: ClientOpts & { cas?: number }) => {
      const res = await withClient(o, (c) => c.kvDelete(key, { cas: o.cas }));
      if (o.json) printJson(res);
      else console.log(`deleted ${res.key}`);
    });
  kv.command('ls [prefix]')
    .description('list keys with a prefix')
    .option('--stale', 'read this manager\'s copy without confirming with the leader')
    .option('--manager <addrs>', 'managers to talk to').option('--token <token>', 'API token (default: ORCH_TOKEN)')
    .option('--json', 'machine-readable output')
    .action(async (prefix: string | undefined, o: ClientOpts & { stale?: boolean }) => {
      const items = await withClient(o, (c) => c.kvList(prefix ?? '', { stale: o.stale }));
      if (o.json) printJson(items);
      else printTable(['KEY', 'VALUE', 'VERSION'], items.map((i) => [i.key, i.value, i.version]));
    });
}

/** "true" or "false", for an option that sets a setting either way. */
function boolOption(flag: string) {
  return (v: string): boolean => {
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw new InvalidArgumentError(`${flag}: expected true or false, got ${JSON.stringify(v)}`);
  };
}

function printSettings(s: ClusterSettings): void {
  console.log(`allow-privileged: ${s.allowPrivileged}`);
  console.log(`allow-host-network: ${s.allowHostNetwork}`);
}

export function clusterCommand(program: Command): void {
  const cluster = program.command('cluster');
  cluster
    .command('update')
    .description('change the cluster\'s settings (replicated: every manager enforces them, whichever leads)')
    .option('--allow-privileged <true|false>', 'let services ask for privileged mode, extra capabilities and host paths', boolOption('--allow-privileged'))
    .option('--allow-host-network <true|false>', 'let services ask for network: host (which reaches the host\'s loopback services)', boolOption('--allow-host-network'))
    .option('--manager <addrs>', 'managers to talk to').option('--token <token>', 'API token (default: ORCH_TOKEN)')
    .option('--json', 'machine-readable output')
    // --manager, --token and --json are also `orch cluster`'s own: commander gives them to it when
    // they follow "update", hence the merge with the parent's.
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<ClientOpts & { allowPrivileged?: boolean; allowHostNetwork?: boolean }>();
      if (o.allowPrivileged === undefined && o.allowHostNetwork === undefined) throw new Error('orch cluster update: give a setting to change, e.g. --allow-privileged true or --allow-host-network false');
      const settings = await withClient(o, (c) => c.updateClusterSettings({ ...(o.allowPrivileged !== undefined ? { allowPrivileged: o.allowPrivileged } : {}), ...(o.allowHostNetwork !== undefined ? { allowHostNetwork: o.allowHostNetwork } : {}) }));
      if (o.json) return printJson(settings);
      printSettings(settings);
    });
  cluster
    .command('settings')
    .description('show the cluster\'s settings')
    .option('--manager <addrs>', 'managers to talk to').option('--token <token>', 'API token (default: ORCH_TOKEN)')
    .option('--json', 'machine-readable output')
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<ClientOpts>();
      const settings = await withClient(o, (c) => c.clusterSettings());
      if (o.json) return printJson(settings);
      printSettings(settings);
    });
  cluster
    .description('list the managers: id, address, role, suffrage (voter or learner), term, commit, applied, reachable')
    .option('--manager <addrs>', 'managers to talk to').option('--token <token>', 'API token (default: ORCH_TOKEN)')
    .option('--json', 'machine-readable output')
    .action(async (o: ClientOpts) => {
      const info = await withClient(o, (c) => c.cluster());
      if (o.json) return printJson(info);
      printTable(
        ['ID', 'ADDRESS', 'ROLE', 'SUFFRAGE', 'TERM', 'COMMIT', 'APPLIED', 'REACHABLE'],
        info.managers.map((m) => [m.id, m.address, m.id === info.leader ? 'leader *' : m.role, m.suffrage ?? '-', m.term, m.commit, m.applied, m.reachable ? 'yes' : 'no']),
      );
    });
}
