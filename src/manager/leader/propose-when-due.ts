import type { ManagerContext } from '../context.js';
import { ManagerState, type Envelope } from '../state/machine.js';
import type { IntervalDuty } from './runner.js';

/**
 * A leader duty that proposes the command `due()` returns, when it returns one. A proposal that fails
 * (leadership lost, not committed) is offered again at the next interval, by this leader or the
 * next: the commands are idempotent by their ids.
 */
export function proposeWhenDue(ctx: ManagerContext, name: string, everyMs: number, due: () => Envelope | null, done: () => void = () => undefined): IntervalDuty {
  return {
    name,
    everyMs,
    run: () => {
      const cmd = due();
      return cmd ? ctx.node.propose(ManagerState.encode(cmd)).then(done) : null;
    },
  };
}
