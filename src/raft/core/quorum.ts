import type { ConfState, NodeId } from './types.js';

/** The size of a majority of n voters. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The highest index that a majority of voters hold, given each voter's match index. Sorting a
 * handful of numbers is cheaper than anything cleverer at the cluster sizes Raft is used at.
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const m = voters.map(matchOf).sort((a, b) => b - a);
  return m[majority(m.length) - 1];
}

export type VoteResult = 'won' | 'lost' | 'pending';

export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const q = majority(voters.length);
  if (granted >= q) return 'won';
  if (rejected >= q) return 'lost';
  return 'pending';
}

export function copyConf(c: ConfState): ConfState {
  return { voters: [...c.voters].sort((a, b) => a - b), learners: [...c.learners].sort((a, b) => a - b) };
}

/** Rejects configurations the core cannot work with, naming what is wrong. */
export function validateConf(c: ConfState): void {
  const all = [...c.voters, ...c.learners];
  for (const id of all) {
    if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`raft: node id must be a positive integer, got ${id}`);
  }
  if (new Set(all).size !== all.length) throw new Error('raft: a node id appears twice in the configuration');
}
