// Polls until a condition yields a value: the chaos run's way to wait for events, never for sleeps.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls `f` every 200 ms until it returns a truthy value, or fails after `ms` naming `what` and the last error. */
export async function until<T>(what: string, ms: number, f: () => Promise<T | false | null | undefined>): Promise<T> {
  const end = Date.now() + ms;
  let last = '';
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v) return v;
    } catch (err) {
      // An error marked fatal ends the wait at once (a refusal that retrying will not change).
      if ((err as { fatal?: boolean }).fatal) throw err;
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`${what} not reached within ${ms / 1000} s${last ? ` (${last})` : ''}`);
}
