// When a cluster allows them, a spec's capabilities and host paths reach the container (checked by
// inspecting it and by using them from inside).
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerRuntime } from '../../src/worker/runtime/docker.js';
import { normalizeSpec } from '../../src/spec/index.js';
import { dockerEngine, TEST_IMAGE } from '../helpers/docker-engine.js';

t.test('capAdd and read-only mounts are applied to the container', async (t) => {
  const { docker } = await dockerEngine();
  const rt = new DockerRuntime(docker, `powers-${randomBytes(4).toString('hex')}`, 1);
  const dir = mkdtempSync(join(tmpdir(), 'orch-mount-'));
  writeFileSync(join(dir, 'hello.txt'), 'from the host\n');
  const spec = normalizeSpec({ name: 'powers', image: TEST_IMAGE, network: 'none', command: ['sleep', '3600'], capAdd: ['NET_ADMIN'], mounts: [{ source: dir, target: '/data', readOnly: true }] });
  const id = await rt.start({ id: `task-${randomBytes(4).toString('hex')}`, serviceName: 'powers', slot: 1, spec });
  t.teardown(() => rt.remove(id));
  const info = await docker.getContainer(id).inspect();
  t.same(info.HostConfig.CapAdd, ['NET_ADMIN'], 'the capability is added');
  t.same(info.HostConfig.Binds, [`${dir}:/data:ro`], 'the host path is bound read-only');
  t.equal(info.HostConfig.Privileged, false, 'not privileged');
  const read = await rt.exec(id, ['cat', '/data/hello.txt'], 5000);
  t.same([read.exitCode, read.output], [0, 'from the host\n'], 'the container reads the host file');
  const write = await rt.exec(id, ['sh', '-c', 'echo x > /data/new.txt'], 5000);
  t.not(write.exitCode, 0, 'and cannot write to it');
});
