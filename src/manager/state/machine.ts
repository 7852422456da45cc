// The manager's replicated state machine: every committed entry is a JSON command, applied in log
// order on every manager. Commands carry an idempotency key; the results of recent keys are kept
// (in snapshots too), so a retry of an applied command returns the first result instead of acting
// twice — which is what makes a client's retry across a leader change safe.
import type { Entry, StateMachine } from '../../raft/index.js';
import { KvStore, type KvCommand } from './kv.js';

export type Command = KvCommand;
export type Envelope = Command & { id: string };

const MAX_REMEMBERED = 20_000;

export class ManagerState implements StateMachine {
  readonly kv = new KvStore();
  private recent = new Map<string, unknown>();
  appliedIndex = 0;

  static encode(cmd: Envelope): Uint8Array {
    return Buffer.from(JSON.stringify(cmd));
  }

  apply(e: Entry): unknown {
    this.appliedIndex = e.index;
    let cmd: Envelope;
    try {
      cmd = JSON.parse(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString('utf8')) as Envelope;
    } catch {
      // Entries are validated before they are proposed; a bad one is skipped identically everywhere.
      return { ok: false, code: 'bad-command' };
    }
    if (this.recent.has(cmd.id)) return this.recent.get(cmd.id);
    let result: unknown;
    switch (cmd.op) {
      case 'kv.put':
      case 'kv.delete':
        result = this.kv.apply(cmd, e.index);
        break;
      default:
        result = { ok: false, code: 'bad-command' };
    }
    this.remember(cmd.id, result);
    return result;
  }

  private remember(id: string, result: unknown): void {
    this.recent.set(id, result);
    if (this.recent.size > MAX_REMEMBERED) {
      const oldest = this.recent.keys().next().value as string;
      this.recent.delete(oldest);
    }
  }

  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify({ v: 1, applied: this.appliedIndex, kv: this.kv.toJSON(), recent: [...this.recent] }));
  }

  restore(data: Uint8Array): void {
    const s = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as {
      v: number;
      applied: number;
      kv: [string, string, number][];
      recent: [string, unknown][];
    };
    if (s.v !== 1) throw new Error(`snapshot format ${s.v} is not supported`);
    this.appliedIndex = s.applied;
    this.kv.restore(s.kv);
    this.recent = new Map(s.recent);
  }
}
