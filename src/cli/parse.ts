import { InvalidArgumentError } from 'commander';
import { parseBytes, parseDuration } from '../spec/units.js';

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

/** A duration flag ("30s", "24h", "1m30s", or 0) in milliseconds. */
export function durationOption(flag: string) {
  return (v: string): number => {
    const ms = v.trim() === '0' ? 0 : parseDuration(v);
    if (ms === null) throw new InvalidArgumentError(`${flag}: expected a duration like 30s, 15m or 24h (or 0), got ${JSON.stringify(v)}`);
    return ms;
  };
}

/** A size flag ("1MiB", "512k", or a number of bytes) in bytes. */
export function bytesOption(flag: string) {
  return (v: string): number => {
    const n = parseBytes(v);
    if (n === null) throw new InvalidArgumentError(`${flag}: expected a size like 1MiB or 512KiB, got ${JSON.stringify(v)}`);
    return n;
  };
}
