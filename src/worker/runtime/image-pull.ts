// Getting a task's image onto this node. A registry that accepts the connection and never answers
// would hold a pull (and the task) forever: a pull that makes no progress for `timeoutMs` is
// abandoned. Concurrent tasks of one image share one pull. A failed pull is not remembered: the next
// task of that image (the restart policy spaces them out) tries again, so a registry that was down
// for a minute does not fail the image for the worker's whole life.
import type Docker from 'dockerode';
import { reason, statusCode } from './docker-errors.js';

/** A registry may take this long between two progress messages before a pull is given up. */
export const DEFAULT_PULL_TIMEOUT_MS = 120_000;

function duration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

export class ImagePuller {
  /** Pulls in progress, by image: every task of the image waits on the same one. */
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly docker: Docker,
    private readonly timeoutMs = DEFAULT_PULL_TIMEOUT_MS,
  ) {}

  /** Resolves once the image is on the engine; rejects with a message that says why it is not. */
  async ensure(image: string): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
      return;
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    let pull = this.inFlight.get(image);
    if (!pull) {
      pull = this.pull(image).finally(() => this.inFlight.delete(image));
      this.inFlight.set(image, pull);
    }
    await pull;
  }

  private async pull(image: string): Promise<void> {
    const abort = new AbortController();
    let stream: NodeJS.ReadableStream & { destroy?: () => void } | undefined;
    let timer: NodeJS.Timeout | undefined;
    let stalled!: (err: Error) => void;
    const stall = new Promise<never>((_, reject) => (stalled = reject));
    // Restarted by every progress message: a slow pull that moves is left alone.
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        abort.abort();
        stream?.destroy?.();
        stalled(new Error(`image ${image} could not be pulled: no progress for ${duration(this.timeoutMs)} (the worker's --pull-timeout); the next task of this image tries again`));
      }, this.timeoutMs);
    };
    const work = (async () => {
      try {
        stream = (await this.docker.pull(image, { abortSignal: abort.signal })) as typeof stream;
        arm();
        await new Promise<void>((resolve, reject) => this.docker.modem.followProgress(stream!, (e: Error | null) => (e ? reject(e) : resolve()), arm));
      } catch (err) {
        throw new Error(`image ${image} not found locally and could not be pulled: ${reason(err)}`);
      }
    })();
    arm();
    try {
      // The loser of the race is still handled by race (its later rejection is not unhandled).
      await Promise.race([work, stall]);
    } finally {
      clearTimeout(timer);
    }
  }
}
