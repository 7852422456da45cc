import type { ManagerContext } from '../context.js';
import type { ClusterSecrets } from '../../api/tokens.js';
import { proposeWhenDue } from './propose-when-due.js';
import type { IntervalDuty } from './runner.js';

/** The first leader of a TLS cluster writes the cluster's secrets into the replicated state (security.init; later inits are ignored). */
export function seedSecurity(ctx: ManagerContext, local: ClusterSecrets, log: (m: string) => void): IntervalDuty {
  return proposeWhenDue(
    ctx,
    'security seed',
    200,
    () => (ctx.state.security.secrets ? null : { op: 'security.init', ts: Date.now(), secrets: local, id: `security.init.${local.clusterId}` }),
    () => log("the cluster's CA and tokens are in the replicated state"),
  );
}
