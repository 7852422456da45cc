// The chaos run's choices come from the seed (the Raft core's mulberry32 generator), so the same
// seed gives the same nemesis schedule and client choices, as far as real processes' timing allows.
import { Random as CoreRandom } from '../../src/raft/core/random.js';

export class Random extends CoreRandom {
  /** An integer in [lo, hi], both included. */
  between(lo: number, hi: number): number {
    return this.int(lo, hi + 1);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length)];
  }

  /** A child generator, so that one consumer's draws do not shift another's. */
  fork(): Random {
    return new Random(this.int(0, 2 ** 32));
  }
}
