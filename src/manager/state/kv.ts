// The key/value part of the replicated state: the cluster's config store (like Nomad's variables).
// A key's version is the log index of its last write, so versions only grow and CAS is exact.

import type { KvItem } from '../../api/kv.js';

export type KvCommand =
  | { op: 'kv.put'; key: string; value: string; cas?: number }
  | { op: 'kv.delete'; key: string; cas?: number };

export type KvResult =
  | { ok: true; item: KvItem }
  | { ok: true; deleted: true; key: string; version: number }
  | { ok: false; code: 'cas-mismatch'; key: string; expected: number; actual: number }
  | { ok: false; code: 'not-found'; key: string };

export class KvStore {
  private readonly items = new Map<string, { value: string; version: number }>();

  get(key: string): KvItem | null {
    const v = this.items.get(key);
    return v ? { key, value: v.value, version: v.version } : null;
  }

  list(prefix: string): KvItem[] {
    const out: KvItem[] = [];
    for (const [key, v] of this.items) if (key.startsWith(prefix)) out.push({ key, value: v.value, version: v.version });
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  get size(): number {
    return this.items.size;
  }

  /** Applies a command at log index `index`. cas = 0 means "only if absent". */
  apply(cmd: KvCommand, index: number): KvResult {
    const cur = this.items.get(cmd.key);
    if (cmd.cas !== undefined) {
      const actual = cur ? cur.version : 0;
      if (actual !== cmd.cas) return { ok: false, code: 'cas-mismatch', key: cmd.key, expected: cmd.cas, actual };
    }
    if (cmd.op === 'kv.put') {
      this.items.set(cmd.key, { value: cmd.value, version: index });
      return { ok: true, item: { key: cmd.key, value: cmd.value, version: index } };
    }
    if (!cur) return { ok: false, code: 'not-found', key: cmd.key };
    this.items.delete(cmd.key);
    return { ok: true, deleted: true, key: cmd.key, version: index };
  }

  toJSON(): [string, string, number][] {
    return [...this.items].map(([k, v]) => [k, v.value, v.version]);
  }

  restore(rows: [string, string, number][]): void {
    this.items.clear();
    for (const [k, value, version] of rows) this.items.set(k, { value, version });
  }
}
