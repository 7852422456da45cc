// 10,000 random and mutated requests to every route of a running manager (the public API, the
// worker routes and the Raft routes): none may answer 5xx or crash the manager, and none that is
// refused (4xx) may change the replicated state. The seed is printed; a failure prints the request.
import t from 'tap';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { encodeMessages } from '../../src/raft/core/codec.js';
import { validateManagerOptions, type Manager } from '../../src/manager/manager.js';
import { singleManager } from '../helpers/single-manager.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagerState } from '../../src/manager/state/machine.js';
import { createRequest } from '../../src/security/pki.js';
import { Agent, request } from 'undici';
import { loadLocalTls } from '../../src/security/local-store.js';

type Tap = Parameters<Extract<Parameters<typeof t.test>[0], (...args: never[]) => unknown>>[0];

interface Req {
  method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

const SEED = Number(process.env.ORCH_FUZZ_SEED ?? 20261123);
const RUNS = Number(process.env.ORCH_FUZZ_RUNS ?? 10_000);
const NODE_ID = 'aaaaaaaaaaaa';
/** Over real TLS a request costs more than through inject. */
const CERT_RUNS = Number(process.env.ORCH_FUZZ_CERT_RUNS ?? Math.ceil(RUNS / 10));

/** Awkward strings: empty, huge, unicode, traversal, NUL, numbers as text. */
const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', ' ', '..', '../../etc/passwd', '%00', '\u0000', 'null', '-1', '1e309', 'web', NODE_ID, 'web/../web', '😀'.repeat(10)),
  fc.string({ minLength: 300, maxLength: 5000 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
);

const segment = nasty.map((s) => encodeURIComponent(s) || 'x');

/** Replaces, deletes or adds one field somewhere in a valid body, or sends something else entirely. */
function mutated(valid: unknown): fc.Arbitrary<unknown> {
  const paths: string[][] = [];
  const walk = (v: unknown, p: string[]) => {
    paths.push(p);
    if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(valid, []);
  const set = (v: unknown, p: string[], x: unknown, del: boolean): unknown => {
    if (p.length === 0) return x;
    const copy = (Array.isArray(v) ? [...v] : { ...(v as object) }) as Record<string, unknown>;
    if (p.length === 1 && del) delete copy[p[0]];
    else copy[p[0]] = set(copy[p[0]], p.slice(1), x, del);
    return copy;
  };
  return fc.oneof(
    { weight: 5, arbitrary: fc.tuple(fc.constantFrom(...paths), fc.anything({ maxDepth: 3 }), fc.boolean()).map(([p, x, del]) => set(valid, p, x, del && p.length > 0)) },
    { weight: 2, arbitrary: fc.tuple(nasty, fc.anything({ maxDepth: 2 })).map(([k, x]) => ({ ...(valid as object), [k]: x })) },
    { weight: 1, arbitrary: fc.anything({ maxDepth: 4 }) },
    { weight: 1, arbitrary: fc.constant(valid) },
    { weight: 1, arbitrary: fc.array(fc.constant(valid), { minLength: 1, maxLength: 3 }) },
  );
}

const json = (body: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 8, arbitrary: body.map((b) => ({ payload: JSON.stringify(b) ?? 'null', type: 'application/json' })) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((s) => ({ payload: `{${s}`, type: 'application/json' })) },
    { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 50 }), fc.constantFrom('text/plain', 'application/xml', 'application/octet-stream', 'multipart/form-data')).map(([s, type]) => ({ payload: s, type })) },
  );

const query = fc.dictionary(fc.oneof(fc.constantFrom('stale', 'cas', 'prefix', 'service', 'node', 'state', 'all', 'since', 'wait', 'follow', 'tail', 'digest'), fc.string({ maxLength: 8 })), fc.oneof(nasty, fc.integer().map(String), fc.constantFrom('true', 'false', '0', '-1')), { maxKeys: 3 });
const qs = (q: Record<string, string>) => {
  // The long-poll would wait on a known node: this fuzz does not test waiting.
  if ('wait' in q) q.wait = '0';
  delete q.follow; // /v1/events?follow=true and logs?follow=true stay open by design
  const s = new URLSearchParams(q).toString();
  return s ? `?${s}` : '';
};

const spec = { name: 'fz', image: 'orch/busybox:latest', command: ['sleep', '1'], replicas: 1, resources: { memory: '16MiB' }, restart: { policy: 'never' } };
const node = { id: NODE_ID, name: 'fuzz-node', address: '127.0.0.1:1', labels: { a: 'b' }, capacity: { cpu: 1, memory: 1 << 30, disk: 1 << 30 } };
const heartbeat = { usage: { cpu: 0.1, memory: 1000, load: 0.2 }, reports: [{ taskId: 'nope', state: 'running', containerId: 'abcdef012345', exitCode: null, error: null }] };

interface Secure {
  tokens: { admin: string; readonly: string; worker: string; manager: string };
  csr: string;
}

function routes(clusterId: string, secure: Secure | null): fc.Arbitrary<Req>[] {
  // With TLS: mostly the admin token (to reach the handlers), else read-only, none, or a bad one.
  const auth: fc.Arbitrary<Record<string, string>> = secure
    ? fc.oneof(
        { weight: 6, arbitrary: fc.constant({ authorization: `Bearer ${secure.tokens.admin}` }) },
        { weight: 2, arbitrary: fc.constant({ authorization: `Bearer ${secure.tokens.readonly}` }) },
        { weight: 1, arbitrary: fc.constant({}) },
        { weight: 1, arbitrary: fc.oneof(nasty, fc.constant(`Bearer ${secure.tokens.worker}`), fc.constant(secure.tokens.admin)).map((h) => ({ authorization: h.replace(/[^\x20-\x7e]/g, '') })) },
      )
    : fc.constant({});
  const withBody = (method: Req['method'], url: fc.Arbitrary<string>, body: fc.Arbitrary<unknown>) =>
    fc.tuple(url, json(body), query, auth).map(([u, b, q, a]) => ({ method, url: u + qs(q), headers: { ...a, 'content-type': b.type }, payload: b.payload }));
  const noBody = (method: Req['method'], url: fc.Arbitrary<string>) => fc.tuple(url, query, auth).map(([u, q, a]) => ({ method, url: u + qs(q), headers: a }));
  const role = fc.oneof(fc.constantFrom('worker', 'manager'), segment);
  const join = { token: secure?.tokens.worker ?? 'ORCH-1-x', role: 'worker', csr: secure?.csr ?? 'x', name: 'bbbbbbbbbbbb' };
  const kvKey = fc.oneof(fc.constantFrom('a', 'a/b', 'x'), segment);
  const svc = fc.oneof(fc.constantFrom('fz', 'web'), segment);
  const nodeId = fc.oneof(fc.constant(NODE_ID), segment);
  // A Raft frame: garbage, or a valid one from a non-peer / to another node, truncated or with a bit flipped.
  const validFrame = Buffer.from(encodeMessages([{ type: 'heartbeat', from: 1, to: 99, term: 5, commit: 3, readRound: 0 }, { type: 'vote', from: 7, to: 1, term: 9, index: 4, logTerm: 2, transfer: false }]));
  const frame = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.tuple(fc.nat(validFrame.length - 1), fc.nat(7)).map(([i, bit]) => {
      const b = Buffer.from(validFrame);
      b[i] ^= 1 << bit;
      return b;
    }),
    fc.nat(validFrame.length).map((n) => validFrame.subarray(0, n)),
  );
  const raftHeaders = fc.record({
    'x-orch-cluster': fc.oneof(fc.constant(clusterId), nasty),
    'x-orch-from': fc.oneof(fc.constantFrom('1', '2', '0', '-1', '99', 'x'), nasty),
    'content-type': fc.constantFrom('application/octet-stream', 'application/json'),
    'x-orch-reply': fc.constantFrom('1', '0'),
    'x-orch-snapshot': fc.oneof(fc.constant('s1'), nasty),
    'x-orch-offset': fc.constantFrom('0', '1', '-1', 'x', '99999999999'),
    'x-orch-total': fc.constantFrom('0', '10', '-5', '2000000000', 'y'),
  });
  const raft = (url: string) => fc.tuple(frame, raftHeaders).map(([payload, headers]) => ({ method: 'POST' as const, url, headers: headers as Record<string, string>, payload }));
  return [
    withBody('PUT', kvKey.map((k) => `/v1/kv/${k}`), mutated({ value: 'x' })),
    noBody('GET', kvKey.map((k) => `/v1/kv/${k}`)),
    noBody('DELETE', kvKey.map((k) => `/v1/kv/${k}`)),
    noBody('GET', fc.constant('/v1/kv')),
    withBody('POST', fc.constant('/v1/services'), mutated(spec)),
    noBody('GET', fc.constant('/v1/services')),
    noBody('GET', svc.map((s) => `/v1/services/${s}`)),
    withBody('PATCH', svc.map((s) => `/v1/services/${s}`), mutated({ replicas: 2, image: 'orch/busybox:2' })),
    noBody('DELETE', svc.map((s) => `/v1/services/${s}`)),
    noBody('POST', svc.map((s) => `/v1/services/${s}/rollback`)),
    noBody('GET', fc.constant('/v1/tasks')),
    noBody('GET', segment.map((s) => `/v1/tasks/${s}`)),
    noBody('DELETE', segment.map((s) => `/v1/tasks/${s}`)),
    noBody('GET', segment.map((s) => `/v1/tasks/${s}/logs`)),
    noBody('GET', fc.constant('/v1/nodes')),
    withBody('PATCH', nodeId.map((s) => `/v1/nodes/${s}`), mutated({ availability: 'pause' })),
    noBody('GET', fc.constant('/v1/cluster')),
    noBody('GET', fc.constant('/raft/status')),
    withBody('POST', fc.constant('/v1/nodes/register'), mutated(node)),
    withBody('POST', nodeId.map((s) => `/v1/nodes/${s}/heartbeat`), mutated(heartbeat)),
    noBody('GET', nodeId.map((s) => `/v1/nodes/${s}/assignments`)),
    raft('/raft/messages'),
    raft('/raft/snapshot'),
    noBody('GET', segment.map((s) => `/${s}`)),
    noBody('GET', fc.constant('/v1/ca')),
    withBody('POST', fc.constant('/v1/join'), mutated(join)),
    withBody('POST', fc.constant('/v1/certs/renew'), mutated({ csr: join.csr })),
    noBody('GET', role.map((r) => `/v1/tokens/${r}`)),
    noBody('POST', role.map((r) => `/v1/tokens/${r}/rotate`)),
    noBody('DELETE', nodeId.map((s) => `/v1/nodes/${s}`)),
    noBody('GET', fc.constant('/metrics')),
    // Membership: a learner at a dead address may really be added (it never counts); removing the
    // only voter is refused; /raft/removed must not stop a manager that is still a member.
    withBody('POST', fc.constant('/v1/managers'), mutated({ address: '127.0.0.1:9' })),
    noBody('DELETE', fc.oneof(fc.constantFrom('1', '2', '0', '-3'), segment).map((s) => `/v1/managers/${s}`)),
    withBody('POST', fc.constant('/raft/removed'), mutated({ id: 1 })),
    // Never ?follow=true: that stream stays open by design.
    fc.tuple(fc.oneof(nasty, fc.constantFrom('0', '3-0', '3-1', '99999999', '-1')), auth).map(([since, a]) => ({ method: 'GET' as const, url: `/v1/events?since=${encodeURIComponent(since)}`, headers: a })),
  ];
}

/** The user-visible replicated state (not counters or the idempotency memo). */
function digest(m: Manager): string {
  const c = m.state.cluster.toJSON() as Record<string, unknown>;
  return createHash('sha256').update(JSON.stringify([m.state.kv.toJSON(), c.services, c.tasks, c.nodes])).digest('hex');
}

type Mode = 'insecure' | 'tls' | 'tls-worker-cert' | 'tls-manager-cert';

interface Answer {
  statusCode: number;
  body: string;
}

async function fuzz(t: Tap, mode: Mode, runs: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'orch-fuzz-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tokensFile = join(dir, 'tokens.json');
  const tls = mode !== 'insecure';
  const dataDir = join(dir, 'manager');
  const m = await singleManager(t, tls ? { insecure: false, tokensFile, announce: () => undefined, dataDir } : {});
  let secure: Secure | null = null;
  const admin: Record<string, string> = {};
  // fastify's inject has no client certificate: with one, requests go over real mutual TLS.
  let send = (req: Req): Promise<Answer> => m.app.inject({ method: req.method, url: req.url, headers: req.headers, payload: req.payload });
  if (tls) {
    secure = { tokens: JSON.parse(readFileSync(tokensFile, 'utf8')) as Secure['tokens'], csr: (await createRequest('bbbbbbbbbbbb')).csrPem };
    admin.authorization = `Bearer ${secure.tokens.admin}`;
    for (let k = 0; k < 300 && !m.state.security.secrets; k++) await new Promise((r) => setTimeout(r, 10));
  }
  if (mode === 'tls-worker-cert' || mode === 'tls-manager-cert') {
    const { material } = loadLocalTls(dataDir);
    let cert = { certPem: material.certPem, keyPem: material.keyPem };
    if (mode === 'tls-worker-cert') {
      // The fuzzed node's own certificate, got as its worker would get it (before it registers).
      const key = await createRequest(NODE_ID);
      const res = await m.app.inject({ method: 'POST', url: '/v1/join', payload: { token: secure!.tokens.worker, role: 'worker', csr: key.csrPem, name: NODE_ID } });
      t.equal(res.statusCode, 200, 'the fuzzing worker joined');
      cert = { certPem: (JSON.parse(res.body) as { certPem: string }).certPem, keyPem: key.keyPem };
    }
    const agent = new Agent({ connect: { ca: material.caPem, cert: cert.certPem, key: cert.keyPem, checkServerIdentity: () => undefined }, connections: 1 });
    t.teardown(() => agent.close());
    const base = `https://127.0.0.1:${(m.app.server.address() as { port: number }).port}`;
    send = async (req) => {
      const res = await request(base + req.url, { method: req.method, headers: req.headers, body: req.payload, dispatcher: agent });
      return { statusCode: res.statusCode, body: await res.body.text() };
    };
  }
  // Something to find: a service, a key, a node (registered as its worker would, over mutual TLS).
  await m.app.inject({ method: 'POST', url: '/v1/services', payload: { ...spec, name: 'web' }, headers: admin });
  await m.app.inject({ method: 'PUT', url: '/v1/kv/a', payload: { value: '1' }, headers: admin });
  await m.node.propose(ManagerState.encode({ op: 'node.register', ts: Date.now(), node, id: 'fuzz-node' }));
  const addr = `127.0.0.1:${(m.app.server.address() as { port: number }).port}`;
  const clusterId = validateManagerOptions({ listen: addr, peers: [addr], dataDir: '' }).clusterId;
  // Proposals made on behalf of API requests carry a UUID; the reconciler's and liveness' do not.
  // Each API entry's effect is measured as it is applied: did that one entry change the state?
  const isApi = (id: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-/.test(id);
  const proposed: string[] = [];
  const changedBy = new Set<string>();
  const propose = m.node.propose.bind(m.node);
  m.node.propose = (data: Uint8Array, ...rest: unknown[]) => {
    const id = (JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id;
    if (isApi(id)) proposed.push(id);
    return (propose as (d: Uint8Array, ...r: unknown[]) => Promise<unknown>)(data, ...rest);
  };
  const apply = m.state.apply.bind(m.state);
  m.state.apply = (e) => {
    let id = '';
    try {
      id = (JSON.parse(Buffer.from(e.data).toString('utf8')) as { id: string }).id;
    } catch {
      // not a command: no effect to measure
    }
    if (!isApi(id)) return apply(e);
    const before = digest(m);
    const r = apply(e);
    if (digest(m) !== before) changedBy.add(id);
    return r;
  };
  const statuses = new Map<number, number>();
  let checked = 0;
  let unsendable = 0;
  let raftReached = 0;
  let workerReached = 0;
  await fc.assert(
    fc.asyncProperty(fc.oneof(...routes(clusterId, secure)), async (req) => {
      proposed.length = 0;
      let res: Answer;
      try {
        res = await send(req);
      } catch (err) {
        // A header value no HTTP client can send (the client refuses it): nothing reached the server.
        if ((err as { code?: string }).code === 'UND_ERR_INVALID_ARG') {
          unsendable++;
          return;
        }
        throw err;
      }
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      // Past the access checks: a Raft frame decoded or refused for its content; a worker route served.
      if (req.url.startsWith('/raft/') && res.statusCode !== 401 && res.statusCode !== 403) raftReached++;
      if (req.url.startsWith(`/v1/nodes/${NODE_ID}/`) && res.statusCode < 300) workerReached++;
      if (res.statusCode >= 500) throw new Error(`${req.method} ${req.url} answered ${res.statusCode}: ${res.body.slice(0, 300)}`);
      if (res.statusCode >= 400 && proposed.some((id) => changedBy.has(id))) {
        throw new Error(`${req.method} ${req.url} was refused (${res.statusCode}) but its entry changed the state: ${res.body.slice(0, 300)}`);
      }
      checked++;
    }),
    { numRuns: runs, seed: SEED },
  );
  t.ok(unsendable < runs / 4, `${unsendable} of ${runs} requests had a header no client can send (not sent)`);
  t.equal(checked + unsendable, runs, `${runs} requests; answers: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}x${n}`).join(' ')}`);
  t.ok([...statuses.keys()].some((s) => s < 300) && [...statuses.keys()].some((s) => s >= 400), 'some were accepted and some refused (the fuzz reaches the handlers)');
  const alive = await m.app.inject({ method: 'GET', url: '/v1/cluster', headers: admin });
  t.equal(alive.statusCode, 200, 'the manager still answers');
  t.ok(m.node.isLeader(), 'and still leads');
  if (mode === 'tls-manager-cert') t.ok(raftReached > 0, `the Raft routes handled ${raftReached} fuzzed requests`);
  if (mode === 'tls-worker-cert') t.ok(workerReached > 0, `the worker routes served ${workerReached} fuzzed requests`);
  if (tls) {
    t.ok(statuses.get(401), 'some were refused for their token (401)');
    t.ok(statuses.get(403), 'and some for what their token or certificate may not do (403)');
  }
}

// The production configuration: TLS, bearer tokens (fastify's inject has no client certificate,
// so the Raft and worker routes are refused at the door here; the insecure run reaches them).
t.test(`${RUNS} random and mutated requests to a TLS manager: no 5xx, no crash, no change from a refused request (seed ${SEED})`, (t) => fuzz(t, 'tls', RUNS));
// With a worker's and a manager's client certificate, over real mutual TLS: the worker and Raft
// routes see the fuzzed input past the door.
for (const mode of ['tls-worker-cert', 'tls-manager-cert'] as const) {
  t.test(`${CERT_RUNS} random and mutated requests to a TLS manager, with a ${mode === 'tls-worker-cert' ? 'worker' : 'manager'}'s client certificate: the same (seed ${SEED})`, (t) => fuzz(t, mode, CERT_RUNS));
}
t.test(`${RUNS} random and mutated requests to an --insecure manager, reaching every handler: the same (seed ${SEED})`, (t) => fuzz(t, 'insecure', RUNS));
