// `orch token worker|manager [--rotate]`: the join tokens, as Swarm's `docker swarm join-token`.
// Rotating makes the old token useless for joining; nodes that joined keep their certificates.
import type { Command } from 'commander';
import { withClient, type ClientOpts } from '../client.js';
import { printJson } from '../output.js';

export function tokenCommand(program: Command): void {
  program
    .command('token <role>')
    .description('print the join token for workers or managers (admin token needed)')
    .option('--rotate', 'replace it with a new one: the old one no longer joins')
    .option('--quiet', 'print only the token')
    .option('--manager <addrs>', 'managers to talk to')
    .option('--token <token>', 'API token (default: ORCH_TOKEN)')
    .option('--json', 'machine-readable output')
    .action(async (role: string, o: ClientOpts & { rotate?: boolean; quiet?: boolean }) => {
      if (role !== 'worker' && role !== 'manager') throw new Error(`token: expected worker or manager, got ${JSON.stringify(role)}`);
      const t = await withClient(o, (c) => c.token(role, o.rotate === true));
      if (o.json) return printJson(t);
      if (o.quiet) return console.log(t.token);
      if (o.rotate) console.log(`the ${role} join token was rotated; the old one no longer joins.`);
      console.log(role === 'worker' ? `To add a worker: orch worker --join <manager> --name <name> --data-dir <dir> --token ${t.token}` : `To add a manager (listed in every manager's --peers): orch manager --peers ... --token ${t.token}`);
    });
}
