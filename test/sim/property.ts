import fc from 'fast-check';
import { simulate, type Fault, type FaultKind, type Schedule, type SimResult } from './cluster.js';

const kinds: FaultKind[] = [
  'crash',
  'crash-leader',
  'restart',
  'restart',
  'partition',
  'oneway',
  'isolate',
  'heal',
  'pause',
  'transfer',
  'forget-leader',
  'add-learner',
  'promote',
  'remove',
];

/** Fault schedules: fast-check generates them and shrinks a failing one to a minimal schedule. */
export function scheduleArb(): fc.Arbitrary<Schedule> {
  const fault: fc.Arbitrary<Fault> = fc.record({
    at: fc.integer({ min: 0, max: 2999 }),
    kind: fc.constantFrom(...kinds),
    a: fc.nat({ max: 31 }),
    b: fc.nat({ max: 1023 }),
  });
  return fc.record({
    nodes: fc.constantFrom(3, 5),
    seed: fc.nat({ max: 2 ** 31 - 1 }),
    dropPercent: fc.integer({ min: 0, max: 25 }),
    dupPercent: fc.integer({ min: 0, max: 10 }),
    faults: fc.array(fault, { maxLength: 24 }).map((fs) => fs.sort((x, y) => x.at - y.at)),
  });
}

const membership: FaultKind[] = ['add-learner', 'add-learner', 'promote', 'promote', 'remove', 'remove'];
const nonMembership: FaultKind[] = ['crash', 'crash-leader', 'restart', 'partition', 'isolate', 'heal', 'pause', 'transfer'];

/**
 * Schedules dominated by membership changes (nodes join as learners, are promoted, members and
 * leaders are removed), mixed with crashes, partitions and pauses; clusters start with 1, 3 or 5.
 */
export function membershipScheduleArb(): fc.Arbitrary<Schedule> {
  const fault: fc.Arbitrary<Fault> = fc.record({
    at: fc.integer({ min: 0, max: 2999 }),
    kind: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...membership) }, { weight: 1, arbitrary: fc.constantFrom(...nonMembership) }),
    a: fc.nat({ max: 31 }),
    b: fc.nat({ max: 1023 }),
  });
  return fc.record({
    nodes: fc.constantFrom(1, 3, 5),
    seed: fc.nat({ max: 2 ** 31 - 1 }),
    dropPercent: fc.integer({ min: 0, max: 20 }),
    dupPercent: fc.integer({ min: 0, max: 10 }),
    faults: fc.array(fault, { minLength: 4, maxLength: 30 }).map((fs) => fs.sort((x, y) => x.at - y.at)),
  });
}

/** Runs one schedule and throws with the schedule and how to replay it when a property breaks. */
export function checkSchedule(s: Schedule): SimResult {
  const res = simulate(s);
  if (!res.ok) {
    throw new Error(`${res.violation}\nreplay: npm run sim -- --schedule '${JSON.stringify(s)}'`);
  }
  return res;
}
