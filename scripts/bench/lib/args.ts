function numberArg(name: string, dflt: number, integer: boolean): number {
  const k = process.argv.indexOf(`--${name}`);
  if (k < 0) return dflt;
  const v = Number(process.argv[k + 1]);
  if (!(integer ? Number.isSafeInteger(v) : Number.isFinite(v)) || v <= 0) {
    console.error(`--${name}: expected a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(process.argv[k + 1])}`);
    process.exit(2);
  }
  return v;
}

/** `--name N` from the command line: a positive integer, or the default; exits with a clear line otherwise. */
export function positiveIntArg(name: string, dflt: number): number {
  return numberArg(name, dflt, true);
}

/** `--name X`: a positive number (e.g. seconds), or the default. */
export function positiveNumberArg(name: string, dflt: number): number {
  return numberArg(name, dflt, false);
}

/**
 * Managers start through bin/orch, as users run them (with its memory settings), unless
 * `--no-launcher` asks for plain `node bin/orch.js`: the before/after of those settings.
 */
export function launcherArg(): boolean {
  return !process.argv.includes('--no-launcher');
}
