// The worker's local state in classic-level under its data dir: its identity (so a restart is the
// same node, not a new one) and the managers it last learned.
import { randomBytes } from 'node:crypto';
import { ClassicLevel } from 'classic-level';
import { makePrivateDataDir } from '../security/data-dir.js';

export interface WorkerIdentity {
  id: string;
  name: string;
}

export class WorkerStore {
  private constructor(
    private readonly db: ClassicLevel<string, string>,
    readonly dir: string,
  ) {}

  static async open(dir: string): Promise<WorkerStore> {
    // 0700, files 0600: it holds the node's TLS key (under tls/) beside this database.
    makePrivateDataDir(dir);
    const db = new ClassicLevel<string, string>(dir, { valueEncoding: 'utf8' });
    try {
      await db.open();
    } catch (err) {
      throw new Error(`data dir ${dir}: cannot open the worker's state: ${(err as Error).cause ?? (err as Error).message}`);
    }
    return new WorkerStore(db, dir);
  }

  private async getJson<T>(key: string): Promise<T | undefined> {
    const v = await this.db.get(key);
    if (v === undefined) return undefined;
    try {
      return JSON.parse(v) as T;
    } catch {
      throw new Error(`data dir ${this.dir}: the record ${key} is corrupt; move the data dir away to start as a new node`);
    }
  }

  /** The node's identity, created on first start; the name must stay the same across restarts. */
  async identity(name: string, key = 'identity'): Promise<WorkerIdentity> {
    const known = await this.getJson<WorkerIdentity>(key);
    if (known) {
      if (known.name !== name) throw new Error(`data dir ${this.dir} belongs to node ${known.name} (${known.id}), not ${name}; use that --name or another --data-dir`);
      return known;
    }
    const id: WorkerIdentity = { id: randomBytes(6).toString('hex'), name };
    await this.db.put(key, JSON.stringify(id), { sync: true });
    return id;
  }

  async managers(): Promise<string[]> {
    return (await this.getJson<string[]>('managers')) ?? [];
  }

  async setManagers(list: string[]): Promise<void> {
    await this.db.put('managers', JSON.stringify(list));
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
