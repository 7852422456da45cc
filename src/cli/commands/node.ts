// `orch node drain|pause|activate NODE`: a node's availability. Drain moves its tasks elsewhere
// (a replacement starts before the old task stops); pause keeps them but places nothing new.
import type { Command } from 'commander';
import { isTerminal } from '../../api/tasks.js';
import { withClient, type ClientOpts } from '../client.js';
import { printJson } from '../output.js';
import { durationOption, pollUntil } from '../progress.js';

export function nodeCommand(program: Command): void {
  const node = program.command('node').description('change a worker node\'s availability, or remove it');
  node
    .command('rm <node>')
    .description('remove a node for good: its tasks are replaced elsewhere and its certificate is refused from now on')
    .option('--force', 'remove it even though it is up')
    .option('--manager <addrs>', 'managers to talk to')
    .option('--token <token>', 'API token (default: ORCH_TOKEN)')
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: ClientOpts & { force?: boolean }) => {
      const r = await withClient(o, (c) => c.removeNode(name, o.force === true));
      if (o.json) return printJson(r);
      console.log(`node ${r.name} (${r.id}) removed; ${r.tasksLost} task(s) will be replaced elsewhere`);
    });
  const verbs = [
    ['drain', 'drain', 'move the node\'s tasks to other nodes and place nothing new on it'],
    ['pause', 'pause', 'keep the node\'s tasks but place nothing new on it'],
    ['activate', 'active', 'let the scheduler use the node again'],
  ] as const;
  for (const [verb, availability, description] of verbs) {
    const cmd = node
      .command(`${verb} <node>`)
      .description(description)
      .option('--manager <addrs>', 'managers to talk to').option('--token <token>', 'API token (default: ORCH_TOKEN)')
      .option('--json', 'machine-readable output');
    if (verb === 'drain') cmd.option('--wait', 'wait until no task runs on the node').option('--timeout <duration>', 'how long --wait waits', durationOption('--timeout'), 300_000);
    cmd.action(async (name: string, o: ClientOpts & { wait?: boolean; timeout?: number }) => {
      await withClient(o, async (c) => {
        const n = await c.setNodeAvailability(name, availability);
        if (o.json) printJson(n);
        else console.log(`node ${n.name} (${n.id}) is ${{ active: 'active', pause: 'paused', drain: 'draining' }[n.availability] ?? n.availability}`);
        if (!o.wait) return;
        const live = async () => (await c.tasks({ node: n.id })).filter((t) => !isTerminal(t.state));
        await pollUntil(
          o.timeout ?? 300_000,
          !!o.json,
          async (p) => {
            const left = await live();
            p.show(`${n.name}: ${left.length} task(s) left`);
            return left.length === 0 ? true : undefined;
          },
          () => `node ${n.name}: tasks still on it after ${Math.round((o.timeout ?? 0) / 1000)} s (is there room for them elsewhere? see orch get)`,
        );
        if (!o.json) console.log(`node ${n.name} is drained`);
      });
    });
  }
}
