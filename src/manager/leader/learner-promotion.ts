import type { ManagerContext } from '../context.js';
import type { IntervalDuty } from './runner.js';

/** How far (in entries) a learner may trail the commit index and still be promoted. */
const PROMOTE_WITHIN = 200;

/** The leader promotes a learner to voter once it has caught up (and answers), one at a time. */
export function promoteCaughtUpLearners(ctx: ManagerContext, log: (m: string) => void): IntervalDuty {
  return {
    name: 'learner promotion',
    everyMs: 100,
    run: () => {
      const st = ctx.node.status();
      if (st.confIndex > st.commit) return null;
      const ready = st.conf.learners.find((l) => {
        const p = st.progress[l];
        return p !== undefined && p.recentActive && p.state === 'replicate' && st.commit - p.match <= PROMOTE_WITHIN;
      });
      if (ready === undefined) return null;
      return ctx.node.proposeConfChange({ type: 'promote', id: ready }).then(() => log(`manager ${ready} caught up and was promoted to voter`));
    },
  };
}
