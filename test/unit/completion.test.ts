// `orch completion bash|zsh` completes the CLI's real commands, subcommands and options in bash.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { buildProgram } from '../../src/cli/main.js';
import { bashCompletion } from '../../src/cli/commands/completion.js';
import { ORCH_BIN } from '../helpers/cluster.js';

const script = bashCompletion(buildProgram());

function complete(...words: string[]): string[] {
  const arr = words.map((w) => `'${w}'`).join(' ');
  const out = execFileSync('bash', ['-c', `${script}\nCOMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; _orch; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

t.test('bash completes commands, subcommands and options', async (t) => {
  t.same(complete('orch', 'no'), ['nodes', 'node'], 'commands');
  t.same(complete('orch', 'node', ''), ['rm', 'drain', 'pause', 'activate'], 'node\'s subcommands');
  t.same(complete('orch', 'node', 'drain', 'w1', '--w'), ['--wait'], 'a subcommand\'s options');
  t.same(complete('orch', 'events', '--f'), ['--follow'], 'a command\'s options');
  t.ok(complete('orch', 'up', '--').includes('--managers'), 'orch up --managers');
});

t.test('zsh gets the same through bashcompinit; other shells are refused by name', async (t) => {
  const zsh = execFileSync(process.execPath, [ORCH_BIN, 'completion', 'zsh'], { encoding: 'utf8' });
  t.match(zsh, /bashcompinit/);
  t.match(zsh, /complete -F _orch orch/);
  t.throws(() => execFileSync(process.execPath, [ORCH_BIN, 'completion', 'fish'], { encoding: 'utf8', stdio: 'pipe' }), /expected bash or zsh, got "fish"/);
});
