// Membership changes, one server at a time (Raft dissertation §4.1, §4.2). A change entry carries the
// whole configuration it leads to, not just the delta: a node that starts from nothing (a manager
// that joins) or from a snapshot learns the configuration from the newest change entry it holds,
// whatever came before.
import { copyConf, validateConf } from './quorum.js';
import type { ConfState, NodeId } from './types.js';

/**
 * add-learner: a new node that receives the log but neither votes nor counts for commit.
 * promote: a learner that has caught up becomes a voter.
 * remove: a voter or learner leaves.
 * force: a survivor made the only voter of a new cluster (--force-new-cluster); never proposed by users.
 */
export type ConfChangeType = 'add-learner' | 'promote' | 'remove' | 'force';

export interface ConfChange {
  type: ConfChangeType;
  id: NodeId;
}

export interface ConfChangeRecord {
  change: ConfChange;
  conf: ConfState;
}

const TYPES: readonly ConfChangeType[] = ['add-learner', 'promote', 'remove', 'force'];

/** The configuration that `cc` leads to from `conf`, or why it cannot be made. */
export function nextConf(conf: ConfState, cc: ConfChange): { conf: ConfState } | { error: string } {
  if (!Number.isSafeInteger(cc.id) || cc.id <= 0) return { error: `node id must be a positive integer, got ${String(cc.id)}` };
  const isVoter = conf.voters.includes(cc.id);
  const isLearner = conf.learners.includes(cc.id);
  switch (cc.type) {
    case 'add-learner':
      if (isVoter || isLearner) return { error: `node ${cc.id} is already a ${isVoter ? 'voter' : 'learner'}` };
      return { conf: copyConf({ voters: conf.voters, learners: [...conf.learners, cc.id] }) };
    case 'promote':
      if (isVoter) return { error: `node ${cc.id} is already a voter` };
      if (!isLearner) return { error: `node ${cc.id} is not a learner: add it as a learner first` };
      return { conf: copyConf({ voters: [...conf.voters, cc.id], learners: conf.learners.filter((x) => x !== cc.id) }) };
    case 'remove':
      if (!isVoter && !isLearner) return { error: `node ${cc.id} is not a member` };
      if (isVoter && conf.voters.length === 1) return { error: `node ${cc.id} is the last voter` };
      return { conf: copyConf({ voters: conf.voters.filter((x) => x !== cc.id), learners: conf.learners.filter((x) => x !== cc.id) }) };
    case 'force':
      return { error: 'a forced configuration is not proposed, it is given at start-up' };
    default:
      return { error: `unknown change type ${JSON.stringify((cc as { type: unknown }).type)}` };
  }
}

export function encodeConfChange(rec: ConfChangeRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ change: rec.change, conf: copyConf(rec.conf) }));
}

/** Decodes a change entry; a malformed one means a corrupt log, and is refused with the reason. */
export function decodeConfChange(data: Uint8Array): ConfChangeRecord {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new Error('raft: a configuration change entry is not valid JSON');
  }
  const o = v as { change?: { type?: unknown; id?: unknown }; conf?: { voters?: unknown; learners?: unknown } };
  const c = o?.change;
  if (!c || typeof c.type !== 'string' || !TYPES.includes(c.type as ConfChangeType) || typeof c.id !== 'number') {
    throw new Error('raft: a configuration change entry has no valid change (type, id)');
  }
  const conf = o.conf;
  if (!conf || !Array.isArray(conf.voters) || !Array.isArray(conf.learners)) {
    throw new Error('raft: a configuration change entry has no valid configuration (voters, learners)');
  }
  const cs: ConfState = { voters: conf.voters as NodeId[], learners: conf.learners as NodeId[] };
  validateConf(cs);
  return { change: { type: c.type as ConfChangeType, id: c.id }, conf: copyConf(cs) };
}
