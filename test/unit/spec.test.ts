import t from 'tap';
import { normalizeSpec, parseSpecText, SpecError, canonicalSpec, upgradeSpec, DEFAULT_PIDS_LIMIT, type ServiceSpec } from '../../src/spec/index.js';
import { parseBytes, parseCpu, parseDuration } from '../../src/spec/units.js';

function issues(input: unknown): string {
  try {
    normalizeSpec(input);
  } catch (err) {
    if (err instanceof SpecError) return err.message;
    throw err;
  }
  return 'accepted';
}

t.test('units', async (t) => {
  t.equal(parseBytes('64MiB'), 64 * 2 ** 20);
  t.equal(parseBytes('1.5GiB'), 1.5 * 2 ** 30);
  t.equal(parseBytes('100MB'), 100e6);
  t.equal(parseBytes('512k'), 512 * 1024);
  t.equal(parseBytes(1000), 1000);
  t.equal(parseBytes('lots'), null);
  t.equal(parseBytes(-1), null);
  t.equal(parseBytes('5 parsecs'), null);
  t.equal(parseDuration('500ms'), 500);
  t.equal(parseDuration('5s'), 5000);
  t.equal(parseDuration('1m30s'), 90_000);
  t.equal(parseDuration('1.5s'), 1500);
  t.equal(parseDuration('soon'), null);
  t.equal(parseCpu(0.5), 0.5);
  t.equal(parseCpu('1.5'), 1.5);
  t.equal(parseCpu('500m'), 0.5);
  t.equal(parseCpu('half'), null);
});

t.test('the example of ARCHITECTURE.md, in YAML, normalizes with units and defaults', async (t) => {
  const yaml = `
name: web
image: orch/busybox:latest
command: ["httpd", "-f", "-p", "18080"]
replicas: 2
resources: { cpu: 0.5, memory: 64MiB, disk: 100MiB }
env: { GREETING: hello }
network: host
ports: [{ container: 18080, host: 18080 }]
restart: { policy: on-failure, maxAttempts: 3, delay: 1s }
healthCheck: { http: { port: 18080, path: / }, interval: 5s, timeout: 2s, retries: 3 }
constraints: ["node.labels.zone == a"]
placement: spread
`;
  const spec = normalizeSpec(parseSpecText(yaml));
  t.same(spec.resources, { cpu: 0.5, memory: 64 * 2 ** 20, disk: 100 * 2 ** 20, pids: 1024 }, 'a pids limit even when none is written');
  t.same(spec.restart, { policy: 'on-failure', maxAttempts: 3, delayMs: 1000 });
  t.same(spec.healthCheck?.http, { port: 18080, path: '/' });
  t.equal(spec.healthCheck?.intervalMs, 5000);
  t.same(spec.constraints, [{ field: 'label', label: 'zone', op: '==', value: 'a' }]);
  t.same(spec.ports, [{ container: 18080, host: 18080, protocol: 'tcp' }]);
  t.equal(spec.update.parallelism, 1, 'defaults filled in');
  const json = normalizeSpec(parseSpecText(JSON.stringify({ name: 'web', image: 'orch/busybox:latest' })));
  t.equal(json.replicas, 1);
  t.equal(json.network, 'bridge');
  t.equal(json.restart.policy, 'always');
  t.equal(canonicalSpec(json), canonicalSpec(normalizeSpec({ image: 'orch/busybox:latest', name: 'web' })), 'field order does not change the canonical form');
});

t.test('refusals name the field and say what was expected', async (t) => {
  const base = { name: 'web', image: 'orch/busybox:latest' };
  t.equal(issues({ ...base, replicas: 'three' }), 'replicas: expected an integer from 0 to 100000, got "three"');
  t.equal(issues({ ...base, replicas: 100001 }), "replicas: expected an integer from 0 to 100000, got 100001");
  t.equal(issues({ ...base, colour: 'blue' }), 'colour: unknown field');
  t.equal(issues({ image: 'x' }), 'name: is required (lower-case letters, digits and dashes, at most 63, starting and ending with a letter or digit)');
  t.match(issues({ ...base, name: 'Web_1' }), /^name: expected lower-case letters/);
  t.equal(issues({ ...base, resources: { memory: 'lots' } }), 'resources.memory: expected a size like 64MiB, 1.5GiB or a number of bytes, got "lots"');
  t.equal(issues({ ...base, resources: { gpu: 1 } }), 'resources.gpu: unknown field');
  const pids = "resources.pids: expected an integer from 2 (the container's init and its command) to 4194304";
  t.equal(issues({ ...base, resources: { pids: 1 } }), `${pids}, got 1`);
  t.equal(issues({ ...base, resources: { pids: 0 } }), `${pids}, got 0`, 'no way to ask for no limit');
  t.equal(issues({ ...base, resources: { pids: 5_000_000 } }), `${pids}, got 5000000`);
  t.equal(issues({ ...base, resources: { pids: 'many' } }), `${pids}, got "many"`);
  t.equal(issues({ ...base, network: 'overlay' }), 'network: expected one of host, bridge, none, got "overlay"');
  t.equal(issues({ ...base, ports: [{ container: 70000 }] }), 'ports[0].container: expected an integer from 1 to 65535, got 70000');
  t.equal(issues({ ...base, network: 'none', ports: [{ container: 80 }] }), 'ports: a service with network none cannot publish ports');
  t.equal(issues({ ...base, ports: [{ container: 80, host: 8080 }, { container: 81, host: 8080 }] }), 'ports[1].host: host port 8080/tcp is already used by ports[0]');
  t.equal(issues({ ...base, restart: { delay: 'soon' } }), 'restart.delay: expected a duration like 500ms, 5s or 1m, got "soon"');
  t.equal(issues({ ...base, healthCheck: { interval: '5s' } }), 'healthCheck: expected exactly one of http, tcp or exec, got 0');
  t.equal(issues({ ...base, constraints: ['zone=a'] }), 'constraints[0]: expected node.name, node.id or node.labels.KEY followed by == or != and a value, got "zone=a"');
  t.equal(issues({ ...base, env: { 'BAD-NAME': 'x' } }), 'env.BAD-NAME: unknown field');
  t.equal(issues('web'), ': a spec must be an object with at least name and image, got "web"'.slice(2));
  t.equal(issues({ ...base, replicas: 'three', colour: 1 }), 'colour: unknown field; replicas: expected an integer from 0 to 100000, got "three"', 'every problem is listed');
});

t.test('text that is not JSON or YAML is refused with its reason', async (t) => {
  t.throws(() => parseSpecText('{"name": '), /not valid JSON/);
  t.throws(() => parseSpecText('name: [unclosed'), /not valid YAML/);
  t.throws(() => parseSpecText('name: a\nname: b'), /not valid YAML/);
});

t.test('resources.pids: the default, a chosen limit, and specs stored before the field existed', async (t) => {
  const base = { name: 'web', image: 'orch/busybox:latest' };
  t.equal(DEFAULT_PIDS_LIMIT, 1024);
  t.equal(normalizeSpec(base).resources.pids, DEFAULT_PIDS_LIMIT);
  t.equal(normalizeSpec({ ...base, resources: { pids: 64 } }).resources.pids, 64);
  const current = normalizeSpec(base);
  const { pids: _, ...older } = current.resources;
  const stored = { ...current, resources: older } as unknown as ServiceSpec;
  t.equal(canonicalSpec(upgradeSpec(stored)), canonicalSpec(current), 'an older stored spec upgrades to the default limit, unchanged otherwise');
  t.equal(upgradeSpec(normalizeSpec({ ...base, resources: { pids: 64 } })).resources.pids, 64, 'an upgrade keeps a chosen limit');
});
