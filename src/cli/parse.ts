import { InvalidArgumentError } from 'commander';

export function intOption(flag: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${flag}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
}

/** A repeatable option's values, in order. */
export function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}
