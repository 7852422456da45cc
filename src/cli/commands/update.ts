// `orch update SERVICE ...`: change part of a service's spec (a changed image, command or env starts
// a rolling update) or roll its last update back; `--wait` follows the update to its end.
import type { Command } from 'commander';
import { withClient, type ClientOpts } from '../client.js';
import { printJson } from '../output.js';
import { collect, intOption } from '../parse.js';
import { durationOption, updateLine, waitService } from '../progress.js';

interface UpdateOpts extends ClientOpts {
  image?: string;
  replicas?: number;
  env: string[];
  envRm: string[];
  parallelism?: number;
  monitor?: number;
  failureAction?: string;
  rollback?: boolean;
  wait?: boolean;
  timeout: number;
}

export function updateCommand(program: Command): void {
  program
    .command('update <service> [command...]')
    .description('change a service (a new image, command or env rolls out task by task), or roll its last update back')
    .option('--image <image>', 'the image to run')
    .option('--replicas <n>', 'number of tasks', intOption('--replicas'))
    .option('-e, --env <K=V>', 'set an environment variable (repeatable)', collect, [])
    .option('--env-rm <K>', 'remove an environment variable (repeatable)', collect, [])
    .option('--parallelism <n>', 'tasks replaced at a time', intOption('--parallelism', 1))
    .option('--monitor <duration>', 'how long a new task must run (and be healthy) before the next', durationOption('--monitor'))
    .option('--failure-action <action>', 'pause or rollback when a new task fails')
    .option('--rollback', 'return to the spec before the last update')
    .option('--wait', 'wait until the update has ended (exits non-zero if it paused or rolled back)')
    .option('--timeout <duration>', 'how long --wait waits', durationOption('--timeout'), 300_000)
    .option('--manager <addrs>', 'managers to talk to').option('--token <token>', 'API token (default: ORCH_TOKEN)')
    .option('--json', 'machine-readable output')
    .action(async (name: string, command: string[], o: UpdateOpts) => {
      if (o.failureAction !== undefined && o.failureAction !== 'pause' && o.failureAction !== 'rollback') {
        throw new Error(`--failure-action: expected pause or rollback, got ${JSON.stringify(o.failureAction)}`);
      }
      const changes = o.image !== undefined || o.replicas !== undefined || o.env.length > 0 || o.envRm.length > 0 || command.length > 0 || o.parallelism !== undefined || o.monitor !== undefined || o.failureAction !== undefined;
      if (o.rollback && changes) throw new Error('--rollback cannot be combined with changes: roll back first, then update');
      if (!o.rollback && !changes) throw new Error('nothing to change: give --image, --replicas, --env, a command, update settings, or --rollback');
      await withClient(o, async (c) => {
        let s;
        if (o.rollback) s = await c.rollbackService(name);
        else {
          const cur = (await c.service(name)).spec;
          const env = { ...cur.env };
          for (const k of o.envRm) delete env[k];
          for (const kv of o.env) {
            const k = kv.indexOf('=');
            if (k <= 0) throw new Error(`--env: expected NAME=value, got ${JSON.stringify(kv)}`);
            env[kv.slice(0, k)] = kv.slice(k + 1);
          }
          const patch: Record<string, unknown> = {};
          if (o.image !== undefined) patch.image = o.image;
          if (o.replicas !== undefined) patch.replicas = o.replicas;
          if (o.env.length || o.envRm.length) patch.env = env;
          if (command.length) patch.command = command;
          if (o.parallelism !== undefined || o.monitor !== undefined || o.failureAction !== undefined) {
            patch.update = {
              parallelism: o.parallelism ?? cur.update.parallelism,
              monitor: o.monitor ?? cur.update.monitorMs,
              failureAction: o.failureAction ?? cur.update.failureAction,
            };
          }
          s = await c.patchService(name, patch);
        }
        if (o.json && !o.wait) printJson(s);
        else if (!o.json) console.log(`service ${s.name} at version ${s.version}${s.update ? `; ${updateLine(s)}` : ''}`);
        if (o.wait) {
          const done = await waitService(c, s.name, o.timeout, !!o.json);
          if (o.json) printJson(done);
          else console.log(`service ${done.name}: ${done.running}/${done.desired} running${done.update ? `; ${updateLine(done)}` : ''}`);
        }
      });
    });
}
