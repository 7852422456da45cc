import type { ManagerContext } from '../context.js';
import { proposeWhenDue } from './propose-when-due.js';
import type { IntervalDuty } from './runner.js';

/** A leader writes leader.elected once per term, so the event stream shows leader changes in log order. */
export function announceLeadership(ctx: ManagerContext, address: string): IntervalDuty {
  return proposeWhenDue(ctx, 'leader announcement', 50, () => {
    const term = ctx.node.term();
    return ctx.state.announced.term >= term ? null : { op: 'leader.elected', ts: Date.now(), leader: ctx.self, term, address, id: `leader.${term}.${ctx.self}` };
  });
}
