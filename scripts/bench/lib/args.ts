/** `--name N` from the command line: a positive integer, or the default; exits with a clear line otherwise. */
export function positiveIntArg(name: string, dflt: number): number {
  const k = process.argv.indexOf(`--${name}`);
  if (k < 0) return dflt;
  const v = Number(process.argv[k + 1]);
  if (!Number.isSafeInteger(v) || v <= 0) {
    console.error(`--${name}: expected a positive integer, got ${JSON.stringify(process.argv[k + 1])}`);
    process.exit(2);
  }
  return v;
}
