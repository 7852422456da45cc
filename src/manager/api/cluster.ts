// The cluster: every manager's view (GET /v1/cluster, gathered by this manager from each peer's
// GET /raft/status, with a short timeout: one that does not answer is listed as unreachable), the
// cluster's policy settings (GET and PATCH /v1/cluster/settings), and membership changes:
// POST /v1/managers adds a manager (it joins as a learner, and the leader promotes it once it has
// caught up); DELETE /v1/managers/:id removes one (the leader hands leadership over first if it is
// the one removed). Membership changes run on the leader, one at a time; a follower forwards them.
import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { request } from 'undici';
import { ConfChangeError, NONE, NotLeaderError, OutcomeUnknownError, type ConfChange, type NodeId } from '../../raft/index.js';
import { AddManagerBody, ClusterInfo, ClusterSettings, ClusterSettingsPatch, ManagerAdded, ManagerIdParams, ManagerRemoved, RaftStatus, RaftStatusQuery, RemovedBody, type ManagerStatus } from '../../api/cluster.js';
import { StaleQuery } from '../../api/kv.js';
import { parseAddress } from '../../api/address.js';
import type { ManagerContext } from '../context.js';
import type { MembershipResult } from '../state/membership-state.js';
import type { SettingsResult } from '../state/settings-state.js';
import { ApiError } from './errors.js';
import { forwardIfFollower, propose, readBarrier } from './consensus.js';

export interface ClusterOptions {
  ctx: ManagerContext;
  clusterId: string;
  electionMs: number;
  /** This manager was removed from the cluster (told so by the leader). */
  onRemoved: () => void;
}

export const REMOVED_PATH = '/raft/removed';

function suffrageOf(ctx: ManagerContext, id: NodeId): 'voter' | 'learner' | 'none' {
  const { voters, learners } = ctx.node.status().conf;
  return voters.includes(id) ? 'voter' : learners.includes(id) ? 'learner' : 'none';
}

export function selfStatus(ctx: ManagerContext): ManagerStatus {
  const s = ctx.node.status();
  return {
    id: ctx.self,
    address: ctx.addresses.get(ctx.self)!,
    role: s.role,
    term: s.term,
    commit: s.commit,
    applied: s.applied,
    reachable: true,
    leader: s.lead === NONE ? null : s.lead,
    suffrage: suffrageOf(ctx, ctx.self),
  };
}

async function peerStatus(ctx: ManagerContext, id: NodeId, address: string): Promise<ManagerStatus> {
  try {
    const res = await request(ctx.net.url(address, '/raft/status'), { dispatcher: ctx.net.manager(address), headersTimeout: 500, bodyTimeout: 500, signal: AbortSignal.timeout(800) });
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
    // Its status only: a peer's /raft/status also carries its counters, which /v1/cluster does not list.
    const { id: i, address: a, role, term, commit, applied, reachable, leader, suffrage } = (await res.body.json()) as ManagerStatus;
    return { id: i, address: a, role, term, commit, applied, reachable, leader, ...(suffrage ? { suffrage } : {}) };
  } catch {
    return { id, address, role: 'unknown', term: 0, commit: 0, applied: 0, reachable: false, leader: null };
  }
}

/** Every manager's status: its own (GET /raft/status, for its peers) and the cluster's (GET /v1/cluster). */
const statusRoutes: FastifyPluginAsyncTypebox<{ ctx: ManagerContext }> = async (app, { ctx }) => {
  app.get(
    '/raft/status',
    // For `orch cluster` gathered by any manager: its peers, or a reader.
    { config: { access: 'peer-read' }, schema: { querystring: RaftStatusQuery, response: { 200: RaftStatus } } },
    async (req) => ({
      ...selfStatus(ctx),
      firstIndex: ctx.node.status().firstIndex,
      lastIndex: ctx.node.status().lastIndex,
      stats: ctx.node.metrics,
      transport: ctx.node.transportStats(),
      memory: process.memoryUsage(),
      // A hash of the whole replicated state as of `applied`: equal on managers that agree.
      ...(req.query.digest ? { digest: createHash('sha256').update(ctx.state.snapshot()).digest('hex') } : {}),
    }),
  );

  app.get('/v1/cluster', { config: { access: 'read' }, schema: { response: { 200: ClusterInfo } } }, async () => {
    const me = selfStatus(ctx);
    const others = await Promise.all([...ctx.addresses].filter(([id]) => id !== ctx.self).map(([id, addr]) => peerStatus(ctx, id, addr)));
    const managers = [me, ...others].sort((a, b) => a.id - b.id);
    const leader = managers.find((m) => m.reachable && m.role === 'leader' && m.term === Math.max(...managers.map((x) => x.term)));
    return {
      leader: leader ? leader.id : null,
      term: Math.max(...managers.map((m) => m.term)),
      // Suffrage as this manager's log has it (the newest configuration it holds).
      managers: managers.map(({ leader: _l, ...m }) => ({ ...m, suffrage: suffrageOf(ctx, m.id) })),
    };
  });
};

/**
 * The settings in force on this manager: the replicated ones, or, in the moment before the first
 * leader's seed commits, this manager's own flag (from which that seed is made).
 */
export function settingsOf(ctx: ManagerContext): ClusterSettings {
  return ctx.state.settings.settings ?? { allowPrivileged: ctx.allowPrivileged === true, allowHostNetwork: true };
}

/** The cluster's policy settings: in the replicated state, so the cluster's, not the flags of whichever manager leads. */
const settingsRoutes: FastifyPluginAsyncTypebox<{ ctx: ManagerContext }> = async (app, { ctx }) => {
  app.get(
    '/v1/cluster/settings',
    { config: { access: 'read' }, schema: { querystring: StaleQuery, response: { 200: ClusterSettings } } },
    async (req) => {
      await readBarrier(ctx, req.query.stale === true);
      return settingsOf(ctx);
    },
  );

  app.patch(
    '/v1/cluster/settings',
    { config: { access: 'admin' }, schema: { body: ClusterSettingsPatch, response: { 200: ClusterSettings } } },
    async (req, reply) => {
      if (await forwardIfFollower(ctx, req, reply)) return reply;
      const res = (await propose(ctx, req, { op: 'settings.update', ts: Date.now(), allowPrivileged: req.body.allowPrivileged, allowHostNetwork: req.body.allowHostNetwork })) as SettingsResult;
      return res.settings;
    },
  );
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** POST and DELETE /v1/managers, and POST /raft/removed (the leader telling a manager it was removed). */
const managerRoutes: FastifyPluginAsyncTypebox<ClusterOptions> = async (app, { ctx, clusterId, electionMs, onRemoved }) => {
  // One membership change at a time on this leader; the core refuses a second one anyway.
  let queue: Promise<unknown> = Promise.resolve();
  function serialized<T>(f: () => Promise<T>): Promise<T> {
    const run = queue.then(f, f);
    queue = run.catch(() => undefined);
    return run;
  }

  /** Proposes a configuration change, waiting out one that is still in flight (e.g. a promotion). */
  async function confChange(cc: ConfChange): Promise<void> {
    const deadline = Date.now() + 10 * electionMs;
    for (;;) {
      try {
        await ctx.node.proposeConfChange(cc);
        return;
      } catch (err) {
        if (err instanceof ConfChangeError && err.reason === 'conf-change-pending' && Date.now() < deadline) {
          await sleep(20);
          continue;
        }
        if (err instanceof ConfChangeError) throw new ApiError(err.reason === 'bad-conf-change' ? 409 : 503, err.reason, `${cc.type} ${cc.id}: ${err.message}`);
        if (err instanceof NotLeaderError) throw new ApiError(503, 'leader-changed', `${err.message}; retry`);
        if (err instanceof OutcomeUnknownError) throw new ApiError(503, 'outcome-unknown', `${cc.type} ${cc.id}: ${err.message}; see "orch cluster", then retry`);
        throw err;
      }
    }
  }

  function isMember(id: NodeId): boolean {
    const { voters, learners } = ctx.node.status().conf;
    return voters.includes(id) || learners.includes(id);
  }

  /**
   * Refuses a removal that would leave fewer answering voters than a majority of those that remain
   * (etcd's strict reconfiguration check): with 3 voters and one down, removing a live one leaves a
   * cluster of 2 that cannot commit until the dead one returns. A voter answers when the leader
   * heard from it within the last election timeout and its last request did not fail; this must
   * hold on 3 looks 100 ms apart, so that a voter that has just died is not counted.
   */
  async function checkQuorumWithout(id: NodeId): Promise<void> {
    let detail = '';
    let passes = 0;
    for (let look = 0; look < 10 && passes < 3; look++) {
      const st = ctx.node.status();
      if (!st.conf.voters.includes(id)) return; // a learner does not count
      const voters = st.conf.voters.filter((v) => v !== id);
      const answering = voters.filter((v) => v === ctx.self || (st.progress[v]?.recentActive && ctx.node.peerAnswering(v)));
      const need = Math.floor(voters.length / 2) + 1;
      if (answering.length >= need) passes++;
      else {
        passes = 0;
        detail = `removing manager ${id} would leave voters ${voters.join(',')}, of which only ${answering.length} answer (${answering.join(',') || 'none'}); ${need} must, or the cluster could not commit. Bring the others back first`;
      }
      await sleep(100);
    }
    if (passes < 3) throw new ApiError(409, 'would-lose-quorum', detail);
  }

  function answer(id: NodeId): ManagerAdded {
    return { id, clusterId, managers: Object.fromEntries([...ctx.addresses].map(([k, a]) => [String(k), a])) };
  }

  app.post(
    '/v1/managers',
    // A manager joining at run time: its certificate (got with the manager join token) lets it ask
    // to be added, as itself, before its address is in the address book; an admin token may add one too.
    { config: { access: 'manager-cert' }, schema: { body: AddManagerBody, response: { 200: ManagerAdded } } },
    async (req, reply) => {
      if (await forwardIfFollower(ctx, req, reply)) return reply;
      const address = req.body.address;
      try {
        parseAddress('address', address);
      } catch (err) {
        throw new ApiError(400, 'bad-address', (err as Error).message);
      }
      return serialized(async () => {
        const known = [...ctx.addresses].find(([, a]) => a === address);
        if (known && isMember(known[0])) {
          throw new ApiError(409, 'address-in-use', `manager ${known[0]} has the address ${address}; a manager that lost its data joins under a new id: remove ${known[0]} first (orch manager remove ${known[0]})`);
        }
        let id: NodeId;
        if (known) {
          id = known[0]; // added to the address book, but its add-learner did not go through
        } else {
          const st = ctx.node.status();
          const m = ctx.state.membership;
          id = Math.max(0, m.maxId, ...m.removed, ...ctx.addresses.keys(), ...st.conf.voters, ...st.conf.learners) + 1;
          const res = (await propose(ctx, req, { op: 'manager.add', ts: Date.now(), managerId: id, address })) as MembershipResult;
          if (!res.ok) throw new ApiError(409, res.code, res.message);
        }
        await confChange({ type: 'add-learner', id });
        req.log.info({ id, address }, `manager ${id} (${address}) added as a learner`);
        return answer(id);
      });
    },
  );

  app.delete(
    '/v1/managers/:id',
    { config: { access: 'admin' }, schema: { params: ManagerIdParams, response: { 200: ManagerRemoved } } },
    async (req, reply) => {
      if (await forwardIfFollower(ctx, req, reply)) return reply;
      const id = req.params.id;
      if (!isMember(id) && !ctx.addresses.has(id)) throw new ApiError(404, 'no-such-manager', `there is no manager ${id} (see orch cluster)`);
      if (id === ctx.self) {
        // The leader is the one removed: hand leadership over first, then let the new leader do it.
        if (!ctx.node.transferLeadership()) throw new ApiError(409, 'no-successor', `manager ${id} is the only voter; it cannot be removed`);
        const deadline = Date.now() + 3 * electionMs;
        while (ctx.node.isLeader() && Date.now() < deadline) await sleep(10);
        if (ctx.node.isLeader()) throw new ApiError(503, 'transfer-failed', `manager ${id} could not hand leadership over in time; retry`);
        while (ctx.node.leaderId() === 0 && Date.now() < deadline) await sleep(10);
        if (await forwardIfFollower(ctx, req, reply)) return reply;
      }
      return serialized(async () => {
        const address = ctx.addresses.get(id);
        if (isMember(id)) {
          await checkQuorumWithout(id);
          await confChange({ type: 'remove', id });
          // Out of the configuration: tell it now, it may never see the entry that removed it.
          if (address) void tellRemoved(address, id);
        }
        await propose(ctx, req, { op: 'manager.remove', ts: Date.now(), managerId: id, ...(address ? { address } : {}) });
        req.log.info({ id, address }, `manager ${id} removed`);
        const { voters, learners } = ctx.node.status().conf;
        return { removed: id, address: address ?? null, conf: { voters, learners } };
      });
    },
  );

  /** Best effort: the removed manager stops instead of campaigning for a cluster that left it. */
  async function tellRemoved(address: string, id: NodeId): Promise<void> {
    // It believes us once its own log says so or once it stops hearing from a leader: a few tries.
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const res = await request(ctx.net.url(address, REMOVED_PATH), {
          dispatcher: ctx.net.manager(address),
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-orch-cluster': clusterId, 'x-orch-from': String(ctx.self) },
          body: JSON.stringify({ id }),
          headersTimeout: 2000,
          bodyTimeout: 2000,
        });
        await res.body.dump();
        if (res.statusCode === 204) return;
      } catch {
        // Down or cut off: it stays out of the configuration either way.
      }
      await sleep(electionMs);
    }
  }

  app.post(
    REMOVED_PATH,
    { config: { access: 'manager' }, schema: { body: RemovedBody } },
    async (req, reply) => {
      if (req.headers['x-orch-cluster'] !== clusterId) throw new ApiError(403, 'wrong-cluster', `this manager belongs to cluster ${clusterId}`);
      if (req.body.id !== ctx.self) throw new ApiError(400, 'not-me', `this is manager ${ctx.self}, not ${req.body.id}`);
      // Only believed when this manager's own log agrees, or it no longer hears from anyone: a
      // stray request must not stop a member.
      if (isMember(ctx.self) && ctx.node.leaderId() !== 0) throw new ApiError(409, 'still-a-member', `manager ${ctx.self} is still in its configuration`);
      onRemoved();
      return reply.code(204).send();
    },
  );
};

export const clusterRoutes: FastifyPluginAsyncTypebox<ClusterOptions> = async (app, opts) => {
  await app.register(statusRoutes, { ctx: opts.ctx });
  await app.register(settingsRoutes, { ctx: opts.ctx });
  await app.register(managerRoutes, opts);
};
