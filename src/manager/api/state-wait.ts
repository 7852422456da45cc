// A request that waits on the replicated state: the workers' long-poll for assignments and the
// blocking read of a service both hold their answer until an applied change makes something hold.
import type { IncomingMessage } from 'node:http';
import type { ManagerContext } from '../context.js';

/**
 * Resolves once `holds()` is true (checked now and after every applied cluster change), after `ms`,
 * or when the client goes away.
 */
export function untilState(ctx: ManagerContext, holds: () => boolean, ms: number, req: IncomingMessage): Promise<void> {
  if (ms <= 0 || holds()) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      unsubscribe();
      req.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const unsubscribe = ctx.state.onClusterChange(() => {
      if (holds()) done();
    });
    req.once('close', done);
  });
}
