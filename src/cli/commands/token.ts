// `orch token`: the cluster's tokens. API tokens by name (create, ls, rotate, revoke), whose
// secret is printed once and never listed; and the join tokens, `orch token worker|manager
// [--rotate]`, as Swarm's `docker swarm join-token`. Rotating a join token makes the old one
// useless for joining (nodes that joined keep their certificates); rotating or revoking an API
// token makes the old secret refused by every manager as soon as it applies the change.
import type { Command } from 'commander';
import { withClient, type ClientOpts } from '../client.js';
import { printJson, printTable } from '../output.js';

const ROLES = ['admin', 'readonly'];

function client(cmd: Command): Command {
  return cmd.option('--manager <addrs>', 'managers to talk to').option('--token <token>', 'API token (default: ORCH_TOKEN)').option('--json', 'machine-readable output');
}

/** A token just made or rotated: printed once, to stdout alone with --quiet (for a script's $(...)). */
function showSecret(o: { json?: boolean; quiet?: boolean }, t: { name: string; role: string; token: string }, what: string): void {
  if (o.json) return printJson(t);
  if (o.quiet) return console.log(t.token);
  console.error(`${what}; it is shown only this once: keep it (pass it with --token or ORCH_TOKEN)`);
  console.log(t.token);
}

export function tokenCommand(program: Command): void {
  const token = program.command('token').description('API tokens (create, ls, rotate, revoke) and the join tokens (worker, manager); admin token needed');

  client(token.command('create <name>'))
    .description('make a named API token; prints its secret once')
    .option('--role <role>', 'admin (may change the cluster) or readonly (may only read)', 'readonly')
    .option('--quiet', 'print only the token')
    .action(async (name: string, o: ClientOpts & { role: string; quiet?: boolean }) => {
      if (!ROLES.includes(o.role)) throw new Error(`--role: expected admin or readonly, got ${JSON.stringify(o.role)}`);
      const t = await withClient(o, (c) => c.createApiToken(name, o.role as 'admin' | 'readonly'));
      showSecret(o, t, `created ${t.role} token ${t.name}`);
    });

  client(token.command('ls'))
    .description('list the API tokens: names, roles and dates (never their secrets)')
    .action(async (o: ClientOpts) => {
      const list = await withClient(o, (c) => c.apiTokens());
      if (o.json) return printJson(list);
      printTable(['NAME', 'ROLE', 'CREATED', 'ROTATED'], list.map((t) => [t.name, t.role, t.createdAt, t.rotatedAt ?? null]));
    });

  client(token.command('rotate <name>'))
    .description('give an API token a new secret (printed once); the old one is refused from then on')
    .option('--quiet', 'print only the token')
    .action(async (name: string, o: ClientOpts & { quiet?: boolean }) => {
      const t = await withClient(o, (c) => c.rotateApiToken(name));
      showSecret(o, t, `rotated ${t.role} token ${t.name}: the old secret is refused from now on`);
    });

  client(token.command('revoke <name>'))
    .alias('rm')
    .description('revoke an API token: it is refused from then on (the last admin token cannot be revoked)')
    .action(async (name: string, o: ClientOpts) => {
      const r = await withClient(o, (c) => c.revokeApiToken(name));
      if (o.json) return printJson(r);
      console.log(`revoked API token ${r.name}`);
    });

  for (const role of ['worker', 'manager'] as const) {
    client(token.command(role))
      .description(`print the ${role} join token`)
      .option('--rotate', 'replace it with a new one: the old one no longer joins')
      .option('--quiet', 'print only the token')
      .action(async (o: ClientOpts & { rotate?: boolean; quiet?: boolean }) => {
        const t = await withClient(o, (c) => c.token(role, o.rotate === true));
        if (o.json) return printJson(t);
        if (o.quiet) return console.log(t.token);
        if (o.rotate) console.log(`the ${role} join token was rotated; the old one no longer joins.`);
        console.log(
          role === 'worker'
            ? `To add a worker: ORCH_JOIN_TOKEN=${t.token} orch worker --join <manager> --name <name> --data-dir <dir>`
            : `To add a manager: ORCH_JOIN_TOKEN=${t.token} orch manager --join <manager> --listen <host:port> --data-dir <dir>`,
        );
      });
  }
}
