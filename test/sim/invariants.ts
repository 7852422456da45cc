import { EntryType, type Entry, type NodeId, type Raft } from '../../src/raft/index.js';

/** A broken safety property: the run stops at the first one. */
export class Violation extends Error {
  constructor(
    readonly property: string,
    detail: string,
  ) {
    super(`${property}: ${detail}`);
  }
}

/**
 * What identifies an entry's content across nodes: its value, 0 for a no-op, and a negative hash of
 * the bytes for a configuration change (so that log matching covers those too).
 */
export function valueOf(e: Entry): number {
  if (e.data.length === 0) return 0;
  if (e.type === EntryType.ConfChange) {
    let h = 0x811c9dc5;
    for (const b of e.data) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    return -1 - (h & 0x3fffffff);
  }
  return new DataView(e.data.buffer, e.data.byteOffset, e.data.byteLength).getUint32(0);
}

export function encodeValue(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v);
  return b;
}

/**
 * The Raft safety properties (Figure 3 of the paper), checked incrementally as the simulator
 * processes each Ready, so that every step of every run is covered without rescanning whole logs.
 */
export class SafetyChecker {
  /** term -> the leader of that term. */
  private readonly leaders = new Map<number, NodeId>();
  /** "index:term" -> the (prev term, value) that entry carries: one entry per index and term. */
  private readonly entries = new Map<string, { prevTerm: number; value: number }>();
  /** index -> term of the entry committed there, as reported by any node. */
  private readonly committed: number[] = [];
  /** index -> value applied there by the first node to apply it. */
  private readonly applied: number[] = [];
  /** Per node and term while it leads: the last index its log reached (leaders only append). */
  private readonly leaderLast = new Map<NodeId, { term: number; last: number }>();

  /** Election Safety: at most one leader per term. */
  onLeader(id: NodeId, term: number, raft: Raft): void {
    const prev = this.leaders.get(term);
    if (prev !== undefined && prev !== id) throw new Violation('Election Safety', `nodes ${prev} and ${id} both lead term ${term}`);
    this.leaders.set(term, id);
    // Leader Completeness: every entry committed so far is in the new leader's log.
    const log = raft.log;
    if (this.committed.length - 1 > log.lastIndex()) {
      throw new Violation('Leader Completeness', `leader ${id} of term ${term} ends at ${log.lastIndex()}, but ${this.committed.length - 1} is committed`);
    }
    for (let i = log.offset + 1; i < this.committed.length; i++) {
      const t = this.committed[i];
      if (t !== undefined && log.term(i) !== t) {
        throw new Violation('Leader Completeness', `leader ${id} of term ${term} has term ${log.term(i)} at committed index ${i} (committed term ${t})`);
      }
    }
  }

  /** Log Matching and Leader Append-Only, on the entries a node is about to persist. */
  onPersist(id: NodeId, raft: Raft, ents: Entry[]): void {
    if (ents.length === 0) return;
    const log = raft.log;
    if (raft.role === 'leader') {
      // One membership change at a time: a leader appends a change only once the one before it in
      // its log is committed.
      for (const e of ents) {
        if (e.type !== EntryType.ConfChange) continue;
        for (let i = e.index - 1; i > Math.max(log.offset, log.committed); i--) {
          if (log.entry(i).type === EntryType.ConfChange) {
            throw new Violation('One change at a time', `leader ${id} appended a change at ${e.index} while the one at ${i} is uncommitted (commit ${log.committed})`);
          }
        }
      }
      const ll = this.leaderLast.get(id);
      if (ll && ll.term === raft.term && ents[0].index <= ll.last) {
        throw new Violation('Leader Append-Only', `leader ${id} of term ${raft.term} rewrote index ${ents[0].index} (it had reached ${ll.last})`);
      }
      this.leaderLast.set(id, { term: raft.term, last: ents[ents.length - 1].index });
    }
    for (const e of ents) {
      const prevTerm = log.term(e.index - 1);
      const key = `${e.index}:${e.term}`;
      const value = valueOf(e);
      const seen = this.entries.get(key);
      if (seen === undefined) this.entries.set(key, { prevTerm, value });
      else if (seen.value !== value || (prevTerm >= 0 && seen.prevTerm >= 0 && seen.prevTerm !== prevTerm)) {
        throw new Violation(
          'Log Matching',
          `node ${id} holds index ${e.index} term ${e.term} as value ${value} after term ${prevTerm}; another node had value ${seen.value} after term ${seen.prevTerm}`,
        );
      }
    }
  }

  /** Committed entries never change: every node agrees on the term committed at each index. */
  onCommit(id: NodeId, raft: Raft, from: number, to: number): void {
    for (let i = Math.max(from, raft.log.offset + 1); i <= to; i++) {
      const t = raft.log.term(i);
      const prev = this.committed[i];
      if (prev === undefined) this.committed[i] = t;
      else if (prev !== t) throw new Violation('Commit agreement', `node ${id} committed term ${t} at index ${i}; term ${prev} was committed there`);
    }
  }

  /** State Machine Safety: no two nodes apply different commands at one index. */
  onApply(id: NodeId, e: Entry): void {
    const v = valueOf(e);
    const prev = this.applied[e.index];
    if (prev === undefined) this.applied[e.index] = v;
    else if (prev !== v) throw new Violation('State Machine Safety', `node ${id} applied value ${v} at index ${e.index}; ${prev} was applied there`);
  }

  /** A snapshot's state must equal what was applied up to its index. */
  onSnapshotRestore(id: NodeId, index: number, values: number[]): void {
    const expect: number[] = [];
    for (let i = 1; i <= index; i++) {
      const v = this.applied[i];
      if (v === undefined) continue; // applied only through snapshots so far
      if (v > 0) expect.push(v);
    }
    // Every value applied by someone must appear in the snapshot in the same order.
    let k = 0;
    for (const v of values) if (k < expect.length && v === expect[k]) k++;
    if (k !== expect.length) throw new Violation('State Machine Safety', `node ${id} restored a snapshot at ${index} that differs from what was applied`);
  }
}
