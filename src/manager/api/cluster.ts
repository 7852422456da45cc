// /v1/cluster: every manager's view, gathered by this one. Each peer is asked for its own status
// (GET /raft/status) with a short timeout; one that does not answer is listed as unreachable.
import { createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { request } from 'undici';
import { NONE, type NodeId } from '../../raft/index.js';
import type { ManagerContext } from '../context.js';

export interface ManagerStatus {
  id: NodeId;
  address: string;
  role: string;
  term: number;
  commit: number;
  applied: number;
  reachable: boolean;
  leader?: NodeId | null;
  /** voter, learner (catching up, not yet counted), or none (removed, or not yet added) */
  suffrage?: 'voter' | 'learner' | 'none';
}

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
    return (await res.body.json()) as ManagerStatus;
  } catch {
    return { id, address, role: 'unknown', term: 0, commit: 0, applied: 0, reachable: false, leader: null };
  }
}

export const clusterRoutes: FastifyPluginAsync<{ ctx: ManagerContext }> = async (app, { ctx }) => {
  app.get<{ Querystring: { digest?: boolean } }>(
    '/raft/status',
    // A manager's status, for `orch cluster` gathered by any manager: its peers, or a reader.
    { config: { access: 'peer-read' }, schema: { querystring: { type: 'object', properties: { digest: { type: 'boolean' } }, additionalProperties: false } } },
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

  app.get('/v1/cluster', async () => {
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
