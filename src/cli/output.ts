// Output for humans (an aligned table, like `docker service ls`) or machines (--json: only JSON
// on stdout).
import { createRequire } from 'node:module';
import type TableType from 'cli-table3';

// Required on first use, not with the CLI: most commands print no table, and every command's
// start-up would pay for loading it.
const require = createRequire(import.meta.url);

export function printTable(head: string[], rows: (string | number | boolean | null)[][]): void {
  const Table = require('cli-table3') as typeof TableType;
  const table = new Table({
    head,
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '   ' },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const r of rows) table.push(r.map((c) => (c === null ? '-' : String(c))));
  console.log(table.toString().split('\n').map((l) => l.trimEnd()).join('\n'));
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}
