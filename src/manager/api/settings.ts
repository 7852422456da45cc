// The cluster's policy settings: GET /v1/cluster/settings (read) and PATCH /v1/cluster/settings
// (admin). They live in the replicated state, so the policy is the cluster's, not the flags of
// whichever manager leads at the moment.
import type { FastifyPluginAsync } from 'fastify';
import type { ManagerContext } from '../context.js';
import type { ClusterSettings, SettingsResult } from '../state/settings-state.js';
import { forwardIfFollower, propose, readBarrier } from './consensus.js';

/**
 * The settings in force on this manager: the replicated ones, or, in the moment before the first
 * leader's seed commits, this manager's own flag (from which that seed is made).
 */
export function settingsOf(ctx: ManagerContext): ClusterSettings {
  return ctx.state.settings.settings ?? { allowPrivileged: ctx.allowPrivileged === true, allowHostNetwork: true };
}

export const settingsRoutes: FastifyPluginAsync<{ ctx: ManagerContext }> = async (app, { ctx }) => {
  app.get<{ Querystring: { stale?: boolean } }>(
    '/v1/cluster/settings',
    { schema: { querystring: { type: 'object', properties: { stale: { type: 'boolean' } }, additionalProperties: false } } },
    async (req) => {
      await readBarrier(ctx, req.query.stale === true);
      return settingsOf(ctx);
    },
  );

  app.patch<{ Body: { allowPrivileged?: boolean; allowHostNetwork?: boolean } }>(
    '/v1/cluster/settings',
    { schema: { body: { type: 'object', properties: { allowPrivileged: { type: 'boolean' }, allowHostNetwork: { type: 'boolean' } }, additionalProperties: false, minProperties: 1 } } },
    async (req, reply) => {
      if (await forwardIfFollower(ctx, req, reply)) return reply;
      const res = (await propose(ctx, req, { op: 'settings.update', ts: Date.now(), allowPrivileged: req.body.allowPrivileged, allowHostNetwork: req.body.allowHostNetwork })) as SettingsResult;
      return res.settings;
    },
  );
};
