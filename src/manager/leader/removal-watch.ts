import type { ManagerContext } from '../context.js';
import type { IntervalDuty } from './runner.js';

/**
 * A manager whose own log says it was removed (and that this is committed) stops. A duty of every
 * manager, not only the leader's: a removed follower must notice too (manager.ts runs it as such).
 */
export function watchOwnRemoval(ctx: ManagerContext, removed: () => void): IntervalDuty {
  let wasMember = false;
  return {
    name: 'removal watch',
    everyMs: 250,
    run: () => {
      const st = ctx.node.status();
      const member = st.conf.voters.includes(ctx.self) || st.conf.learners.includes(ctx.self);
      if (member) wasMember = true;
      else if (wasMember && st.confIndex <= st.commit) removed();
      return null;
    },
  };
}
