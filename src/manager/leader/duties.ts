// Which duties a manager runs, and where: the list the runner (runner.ts) starts and stops.
import type { ManagerContext } from '../context.js';
import type { Liveness } from '../liveness.js';
import type { ManagerTls } from '../tls-bootstrap.js';
import { announceLeadership } from './announce.js';
import { promoteCaughtUpLearners } from './learner-promotion.js';
import { nodeLiveness } from './node-liveness.js';
import type { Reconciler } from './reconciler.js';
import { watchOwnRemoval } from './removal-watch.js';
import type { Duty, IntervalDuty } from './runner.js';
import { seedSecurity } from './security-seed.js';
import { seedSettings } from './settings-seed.js';

export interface DutyWiring {
  ctx: ManagerContext;
  /** This manager's advertised address, for the leader.elected event. */
  address: string;
  reconciler: Reconciler;
  heartbeats: Liveness;
  nodeRemoveAfterMs: number;
  /** Set in a TLS cluster: its secrets are seeded by the first leader, and each manager renews its own certificate. */
  tls?: { mtls: ManagerTls; renewal: IntervalDuty };
  /** The removal watch saw this manager removed. */
  onRemoved(): void;
  /** A line for the operator (standard error). */
  note(m: string): void;
  /** A line for the manager's log. */
  info(m: string): void;
}

export function managerDuties(w: DutyWiring): { leader: (Duty | IntervalDuty)[]; always: (Duty | IntervalDuty)[] } {
  const leader: (Duty | IntervalDuty)[] = [
    w.reconciler.duty(),
    nodeLiveness(w.ctx, w.heartbeats, w.nodeRemoveAfterMs),
    announceLeadership(w.ctx, w.address),
    seedSettings(w.ctx, w.note),
    promoteCaughtUpLearners(w.ctx, w.info),
  ];
  // The removal watch runs on every manager: a removed follower must stop too.
  const always: (Duty | IntervalDuty)[] = [watchOwnRemoval(w.ctx, w.onRemoved)];
  if (w.tls) {
    leader.push(seedSecurity(w.ctx, w.tls.mtls.local, w.note));
    always.push(w.tls.renewal);
  }
  return { leader, always };
}
