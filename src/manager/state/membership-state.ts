// The managers that joined a running cluster, and those removed, in the replicated state: every
// manager derives the same address book from it (the managers of --peers, plus those added, minus
// those removed). Ids are handed out here, in log order, and never reused: a removed id stays
// taken, and an add with an id at or below the highest ever used is refused.
import type { NodeId } from '../../raft/index.js';

export type MembershipCommand =
  | { op: 'manager.add'; ts: number; managerId: NodeId; address: string }
  /** `address`: the removed manager's, so that its certificate (which names the address) is refused. */
  | { op: 'manager.remove'; ts: number; managerId: NodeId; address?: string };

export type MembershipResult = { ok: true; managerId: NodeId } | { ok: false; code: 'id-used' | 'address-in-use'; message: string };

export interface MembershipJSON {
  added: [NodeId, string][];
  removed: NodeId[];
  maxId: number;
  removedAt?: [string, number][];
}

export class MembershipState {
  /** Managers added at run time: id -> address. */
  readonly added = new Map<NodeId, string>();
  readonly removed = new Set<NodeId>();
  /**
   * Address -> when the manager at that address was last removed. A manager certificate naming the
   * address and issued before then is revoked; a new manager joining at the address later gets a
   * newer one.
   */
  readonly removedAt = new Map<string, number>();
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
        if (typeof cmd.address === 'string') this.removedAt.set(cmd.address, Math.max(cmd.ts, this.removedAt.get(cmd.address) ?? 0));
        this.maxId = Math.max(this.maxId, cmd.managerId);
        return { ok: true, managerId: cmd.managerId };
    }
  }

  /** The address book: the bootstrap managers (from --peers, or from the join answer), changed by the log. */
  /** Whether a manager certificate for `address`, issued at `issuedAt`, predates the removal of a manager there. */
  revoked(address: string, issuedAt: number): boolean {
    const at = this.removedAt.get(address);
    return at !== undefined && issuedAt <= at;
  }

  addresses(base: ReadonlyMap<NodeId, string>): Map<NodeId, string> {
    const out = new Map(base);
    for (const [id, a] of this.added) out.set(id, a);
    for (const id of this.removed) out.delete(id);
    return out;
  }

  toJSON(): MembershipJSON {
    return { added: [...this.added], removed: [...this.removed], maxId: this.maxId, removedAt: [...this.removedAt] };
  }

  restore(s: MembershipJSON | undefined): void {
    this.added.clear();
    this.removed.clear();
    this.removedAt.clear();
    for (const [a, ts] of s?.removedAt ?? []) this.removedAt.set(a, ts);
    this.maxId = s?.maxId ?? 0;
    for (const [id, a] of s?.added ?? []) this.added.set(id, a);
    for (const id of s?.removed ?? []) this.removed.add(id);
  }
}
