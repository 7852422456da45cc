// Who this manager is (its Raft id, its address, its cluster), written once when its data dir is
// created and checked at every start: a data dir is never started as another manager. The record
// lives in the Raft storage's database under the key 'id' (JSON, sealed with a CRC like every
// record there), where every earlier version wrote it.
import type { RaftStorage } from '../raft/index.js';

/** Identity of a manager, written once when its data dir is created. */
export interface Identity {
  id: number;
  address: string;
  clusterId: string;
  /**
   * A manager that joined a running cluster (--join): the managers it was told of then (id ->
   * address), its address book until the replicated state says more. Absent for --peers managers.
   */
  joined?: Record<string, string>;
}

const KEY = 'id';
const WHAT = 'the identity record';

export class IdentityStore {
  constructor(private readonly storage: RaftStorage) {}

  /** The identity, or null for a new data dir. A damaged record throws StorageError naming it. */
  async get(): Promise<Identity | null> {
    const payload = await this.storage.getRecord(KEY, WHAT);
    if (payload === null) return null;
    const id = JSON.parse(Buffer.from(payload).toString('utf8')) as Identity;
    // The storage's advice for a damaged log names this manager's id.
    if (Number.isSafeInteger(id.id)) this.storage.setOwnerId(id.id);
    return id;
  }

  async set(id: Identity): Promise<void> {
    await this.storage.putRecord(KEY, Buffer.from(JSON.stringify(id)));
  }
}
