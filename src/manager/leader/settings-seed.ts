import type { ManagerContext } from '../context.js';
import { proposeWhenDue } from './propose-when-due.js';
import type { IntervalDuty } from './runner.js';

/**
 * The first leader of a cluster seeds its settings from its own flags (settings.init; later inits,
 * from any manager's flags, are ignored): from then on the policy is the cluster's, whoever leads.
 * The id is a manager's own, outside the namespace of clients' keys (see api/idempotency.ts).
 */
export function seedSettings(ctx: ManagerContext, log: (m: string) => void): IntervalDuty {
  return proposeWhenDue(
    ctx,
    'settings seed',
    200,
    () => (ctx.state.settings.settings ? null : { op: 'settings.init', ts: Date.now(), settings: { allowPrivileged: ctx.allowPrivileged === true, allowHostNetwork: true }, id: 'settings.init' }),
    () => log(`the cluster's settings are in the replicated state: ${JSON.stringify(ctx.state.settings.settings)}`),
  );
}
