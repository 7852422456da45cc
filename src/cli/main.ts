// The orch command line: commander wiring only. Each command lives in its own module and is added
// here as it becomes real; nothing is registered that does not work yet.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ApiRequestError } from '../client/client.js';
import { clusterCommand, kvCommand } from './commands/kv.js';
import { managerCommand } from './commands/manager.js';
import { nodeCommand } from './commands/node.js';
import { serviceCommands } from './commands/services.js';
import { updateCommand } from './commands/update.js';
import { workerCommand } from './commands/worker.js';
import { tokenCommand } from './commands/token.js';
import { eventsCommand } from './commands/events.js';
import { upCommands } from './commands/up.js';
import { completionCommand } from './commands/completion.js';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('orch')
    .description('A container orchestrator: Raft-replicated managers schedule Docker containers on workers.')
    .version(packageVersion(), '-v, --version', 'print the version')
    .showHelpAfterError('(run "orch --help" for usage)')
    .exitOverride();
  managerCommand(program);
  workerCommand(program);
  serviceCommands(program);
  updateCommand(program);
  nodeCommand(program);
  tokenCommand(program);
  eventsCommand(program);
  upCommands(program);
  completionCommand(program);
  kvCommand(program);
  clusterCommand(program);
  return program;
}

/** Runs the CLI and returns the exit code (0 on success). */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const msg = err instanceof ApiRequestError ? `${err.message} (${err.code})` : (err as Error).message;
    console.error(`orch: ${msg.split('\n')[0]}`);
    return 1;
  }
}
