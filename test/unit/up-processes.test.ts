// `orch up` tells a process that exited from one still starting (src/cli/local/cluster-file.ts):
// a live process is not gone, whatever its command line reads as; an exited one is.
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { hasExited } from '../../src/cli/local/cluster-file.js';

t.test('a running process has not exited; once it exits, it has', async (t) => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const p = { pid: child.pid!, role: 'worker' as const, name: 'w', dataDir: '/nonexistent', log: '/dev/null' };
  t.notOk(hasExited(p), 'running, though its command line names neither the role nor the data dir');
  child.kill('SIGKILL');
  await once(child, 'exit');
  t.ok(hasExited(p), 'exited');
});
