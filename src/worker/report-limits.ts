// What a worker sends fits what the managers accept: a report field over its limit made the whole
// heartbeat a 400, the batch was sent again with every heartbeat, and the node was declared down
// while it ran fine. The limits mirror the heartbeat schema of src/api/nodes.ts (a unit
// test pins them), and fields are cut here, at the source, before they are queued.
import type { Usage } from '../api/nodes.js';
import type { TaskReport } from '../api/tasks.js';

export const REPORT_LIMITS = {
  /** Characters (code points) of a report's error message. */
  error: 4096,
  /** Reports in one heartbeat. */
  reportsPerHeartbeat: 5_000,
  /**
   * Estimated bytes of one heartbeat's JSON: the managers take bodies up to 2 MiB; an estimate
   * (not an encoding of each report, which would cost at 100,000 tasks) with room to spare.
   */
  heartbeatBytes: 1 << 20,
} as const;

const TRUNCATED = ' …[cut]';

/** `s` cut to at most `max` code points, marked as cut, never splitting a surrogate pair. */
export function cutText(s: string, max: number): string {
  // .length counts UTF-16 units, never fewer than code points: a string within it is within max.
  if (s.length <= max) return s;
  let head = s.slice(0, max - TRUNCATED.length);
  const last = head.charCodeAt(head.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) head = head.slice(0, -1);
  return head + TRUNCATED;
}

/** The report with every field within what the managers accept. */
export function fitReport(r: TaskReport): TaskReport {
  const out: TaskReport = { ...r };
  if (typeof out.error === 'string') out.error = cutText(out.error, REPORT_LIMITS.error);
  // NaN or a fraction from a malformed engine event: JSON would carry it as null or be refused.
  if (out.exitCode !== undefined && out.exitCode !== null && !Number.isSafeInteger(out.exitCode)) out.exitCode = null;
  return out;
}

/** Upper bound of a report's JSON size: every error character escaped (\u00XX) is the worst case. */
export function reportBytes(r: TaskReport): number {
  return 200 + 6 * (r.error?.length ?? 0);
}

/** How many of `reports`, from the first, go in one heartbeat (at least one). */
export function batchSize(reports: readonly TaskReport[]): number {
  let bytes = 0;
  let n = 0;
  for (const r of reports) {
    if (n >= REPORT_LIMITS.reportsPerHeartbeat) break;
    bytes += reportBytes(r);
    if (n > 0 && bytes > REPORT_LIMITS.heartbeatBytes) break;
    n++;
  }
  return n;
}

/** Usage with every figure a finite number: JSON carries NaN as null, which the managers refuse. */
export function fitUsage(u: Usage): Usage {
  const f = (x: number) => (Number.isFinite(x) ? x : 0);
  return { cpu: f(u.cpu), memory: f(u.memory), load: f(u.load) };
}
