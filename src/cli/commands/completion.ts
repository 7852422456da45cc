// `orch completion bash|zsh`: a completion script made from the commands and options the CLI
// has (so it never goes stale). zsh uses the bash script through bashcompinit.
import type { Command } from 'commander';

function words(cmd: Command): string {
  return cmd.options.map((o) => o.long).filter((x): x is string => !!x).concat('--help').join(' ');
}

export function bashCompletion(program: Command): string {
  const cmds = program.commands;
  const cases = cmds
    .map((c) => {
      const subs = c.commands.map((s) => s.name());
      if (subs.length === 0) return `    ${c.name()}) opts="${words(c)}" ;;`;
      const subCases = c.commands.map((s) => `        ${s.name()}) opts="${words(s)}" ;;`).join('\n');
      return `    ${c.name()})\n      if [ "$COMP_CWORD" -eq 2 ]; then COMPREPLY=( $(compgen -W "${subs.join(' ')}" -- "$cur") ); return; fi\n      case "\${COMP_WORDS[2]}" in\n${subCases}\n      esac ;;`;
    })
    .join('\n');
  return `# orch completion for bash: source <(orch completion bash), or save it under /etc/bash_completion.d/orch
_orch() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" opts=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${cmds.map((c) => c.name()).join(' ')} --help --version" -- "$cur") )
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "$opts" -- "$cur") ); else COMPREPLY=( $(compgen -f -- "$cur") ); fi
}
complete -F _orch orch
`;
}

export function completionCommand(program: Command): void {
  program
    .command('completion <shell>')
    .description('print a shell completion script (bash or zsh): source <(orch completion bash)')
    .action((shell: string) => {
      if (shell === 'bash') process.stdout.write(bashCompletion(program));
      else if (shell === 'zsh') process.stdout.write(`# orch completion for zsh: source <(orch completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n${bashCompletion(program)}`);
      else throw new Error(`completion: expected bash or zsh, got ${JSON.stringify(shell)}`);
    });
}
