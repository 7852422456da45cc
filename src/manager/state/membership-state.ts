// The managers that joined a running cluster, and those removed, in the replicated state: every
// manager derives the same address book from it (the managers of --peers, plus those added, minus
// those removed). Ids are handed out here, in log order, and never reused: a removed id stays
// taken, and an add with an id at or below the highest ever used is refused.
import type { NodeId } from '../../raft/index.js';

export type MembershipCommand =
  | { op: 'manager.add'; ts: number; managerId: NodeId; address: string }
  | { op: 'manager.remove'; ts: number; managerId: NodeId };

export type MembershipResult = { ok: true; managerId: NodeId } | { ok: false; code: 'id-used' | 'address-in-use'; message: string };

export interface MembershipJSON {
  added: [NodeId, string][];
  removed: NodeId[];
  maxId: number;
}

export class MembershipState {
  /** Managers added at run time: id -> address. */
  readonly added = new Map<NodeId, string>();
  readonly removed = new Set<NodeId>();
  /** The highest id ever handed out by manager.add. */
  maxId = 0;

  apply(cmd: MembershipCommand): MembershipResult {
    switch (cmd.op) {
      case 'manager.add': {
        if (cmd.managerId <= this.maxId || this.removed.has(cmd.managerId)) {
          return { ok: false, code: 'id-used', message: `manager id ${cmd.managerId} was used before; ids are never reused` };
        }
        for (const [id, a] of this.added) {
          if (a === cmd.address) return { ok: false, code: 'address-in-use', message: `manager ${id} already has the address ${a}` };
        }
        this.added.set(cmd.managerId, cmd.address);
        this.maxId = cmd.managerId;
        return { ok: true, managerId: cmd.managerId };
      }
      case 'manager.remove':
        this.added.delete(cmd.managerId);
        this.removed.add(cmd.managerId);
        this.maxId = Math.max(this.maxId, cmd.managerId);
        return { ok: true, managerId: cmd.managerId };
    }
  }

  /** The address book: the bootstrap managers (from --peers, or from the join answer), changed by the log. */
  addresses(base: ReadonlyMap<NodeId, string>): Map<NodeId, string> {
    const out = new Map(base);
    for (const [id, a] of this.added) out.set(id, a);
    for (const id of this.removed) out.delete(id);
    return out;
  }

  toJSON(): MembershipJSON {
    return { added: [...this.added], removed: [...this.removed], maxId: this.maxId };
  }

  restore(s: MembershipJSON | undefined): void {
    this.added.clear();
    this.removed.clear();
    this.maxId = s?.maxId ?? 0;
    for (const [id, a] of s?.added ?? []) this.added.set(id, a);
    for (const id of s?.removed ?? []) this.removed.add(id);
  }
}
