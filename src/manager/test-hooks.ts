// TEST HOOKS ONLY, for the fail-stop tests (test/integration/fail-stop.test.ts): environment
// variables that make this manager's disk writes, or its state machine's apply, throw once a
// trigger file exists, so a test picks the moment (and the manager: leader or follower) from
// outside. Never set them in production; a manager started with one says so in its log.
import { existsSync } from 'node:fs';
import { CHECK_RESPONSES_ENV } from './api/response-check.js';

/** Path of a file: once it exists, every synced write of the Raft storage fails with EIO. */
export const FAIL_WRITE_ENV = 'ORCH_TEST_HOOK_FAIL_WRITE';
/** Path of a file: once it exists, applying any entry to the state machine throws. */
export const FAIL_APPLY_ENV = 'ORCH_TEST_HOOK_FAIL_APPLY';

export interface TestHooks {
  beforeWrite?: () => void;
  beforeApply?: () => void;
  /** Check every answer against its route's response schema (api/response-check.ts); no warning: a correct answer passes unchanged. */
  checkResponses?: boolean;
  /** What is armed, for a warning in the log; empty when nothing is. */
  armed: string[];
}

export function testHooksFromEnv(env: NodeJS.ProcessEnv = process.env): TestHooks {
  const hooks: TestHooks = { armed: [], checkResponses: env[CHECK_RESPONSES_ENV] === '1' };
  const write = env[FAIL_WRITE_ENV];
  if (write) {
    hooks.armed.push(`${FAIL_WRITE_ENV}=${write}`);
    hooks.beforeWrite = () => {
      if (existsSync(write)) throw Object.assign(new Error(`EIO: i/o error (injected by the test hook ${FAIL_WRITE_ENV}: ${write} exists)`), { code: 'EIO' });
    };
  }
  const apply = env[FAIL_APPLY_ENV];
  if (apply) {
    hooks.armed.push(`${FAIL_APPLY_ENV}=${apply}`);
    hooks.beforeApply = () => {
      if (existsSync(apply)) throw new Error(`injected by the test hook ${FAIL_APPLY_ENV} (${apply} exists)`);
    };
  }
  return hooks;
}
