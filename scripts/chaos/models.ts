// The sequential specifications the chaos histories are checked against: a versioned register per
// key of the replicated key/value store (put, compare-and-set on the version, read), and a service
// record per service name (create, scale, stop, read).
import type { Model } from './linearizability.js';

/** A version that an unknown write left behind: some index, not known which. */
const UNKNOWN = '?';

export interface KvState {
  value: string | null;
  version: number | null | typeof UNKNOWN;
}

export type KvInput = { op: 'put'; value: string } | { op: 'cas'; value: string; expect: number } | { op: 'get' };
export type KvOutput = { version: number } | { ok: true; version: number } | { ok: false } | { value: string | null; version: number | null };

const sameVersion = (s: KvState['version'], v: number | null) => s === UNKNOWN || s === v;
/** A compare-and-set compares with the current version, 0 for an absent key. */
const current = (s: KvState['version']) => (s === null ? 0 : s);

export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => ({ value: null, version: null }),
  key: (s) => `${s.version}:${s.value}`,
  step(s, input, out) {
    switch (input.op) {
      case 'put':
        return [{ value: input.value, version: out && 'version' in out && out.version !== null ? out.version : UNKNOWN }];
      case 'cas': {
        const applied: KvState = { value: input.value, version: out && 'ok' in out && out.ok ? out.version : UNKNOWN };
        if (out === undefined) {
          if (s.version === UNKNOWN) return [applied, s];
          return current(s.version) === input.expect ? [applied] : [s];
        }
        if ('ok' in out && out.ok) return s.version === UNKNOWN || current(s.version) === input.expect ? [applied] : [];
        return s.version === UNKNOWN || current(s.version) !== input.expect ? [s] : [];
      }
      case 'get': {
        if (out === undefined) return [s];
        const o = out as { value: string | null; version: number | null };
        if (o.value !== s.value || !sameVersion(s.version, o.version)) return [];
        return [{ value: s.value, version: o.version }];
      }
    }
  },
  describe(input, out) {
    const o = out === undefined ? 'unknown' : JSON.stringify(out);
    if (input.op === 'put') return `put ${JSON.stringify(input.value)} -> ${o}`;
    if (input.op === 'cas') return `cas ${JSON.stringify(input.value)} if version ${input.expect} -> ${o}`;
    return `get -> ${o}`;
  },
};

export interface ServiceState {
  exists: boolean;
  replicas: number | null;
  active: boolean;
}

export type ServiceInput = { op: 'create'; replicas: number } | { op: 'scale'; replicas: number } | { op: 'stop' } | { op: 'get' };
/** `missing`: the manager answered 404. */
export type ServiceOutput = { ok: true } | { missing: true } | { replicas: number; active: boolean };

export const serviceModel: Model<ServiceState, ServiceInput, ServiceOutput> = {
  init: () => ({ exists: false, replicas: null, active: false }),
  key: (s) => `${s.exists}:${s.replicas}:${s.active}`,
  step(s, input, out) {
    const missing = out !== undefined && 'missing' in out;
    switch (input.op) {
      case 'create':
        return [{ exists: true, replicas: input.replicas, active: true }];
      case 'scale':
      case 'stop': {
        const next: ServiceState = input.op === 'scale' ? { exists: true, replicas: input.replicas, active: true } : { ...s, active: false };
        if (out === undefined) return s.exists ? [next] : [s];
        if (missing) return s.exists ? [] : [s];
        return s.exists ? [next] : [];
      }
      case 'get': {
        if (out === undefined) return [s];
        if (missing) return s.exists ? [] : [s];
        const o = out as { replicas: number; active: boolean };
        return s.exists && o.replicas === s.replicas && o.active === s.active ? [s] : [];
      }
    }
  },
  describe(input, out) {
    return `${input.op}${'replicas' in input ? ` ${input.replicas}` : ''} -> ${out === undefined ? 'unknown' : JSON.stringify(out)}`;
  },
};
