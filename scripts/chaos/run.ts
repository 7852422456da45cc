// One chaos run: a cluster of real processes on loopback (managers started with --chaos, workers on
// the Docker engine), clients recording a history, the nemesis injecting faults for the duration;
// then every fault is healed and the checks run: linearizability of the key/value and service
// histories, every acknowledged write present, every manager at the same state, every service
// with exactly its replicas running (one container per slot on the engine, none without a task).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessCluster } from '../../test/helpers/cluster.js';
import { dockerEngine } from '../../test/helpers/docker-engine.js';
import { chaosClient, kvClient, serviceClient, type ClientLoop } from './clients.js';
import { History } from './history.js';
import { checkByKey } from './linearizability.js';
import { kvModel, serviceModel } from './models.js';
import { Nemesis } from './nemesis.js';
import { until } from './until.js';
import { Observer } from './observer.js';
import { Random } from './random.js';
import { summaryText, timelineHtml, type CheckLine, type Summary } from './report.js';

export interface ChaosOptions {
  durationMs: number;
  managers: number;
  workers: number;
  seed: number;
  outDir: string;
  kvClients?: number;
  keys?: number;
  services?: number;
  gapMs?: [number, number];
  holdMs?: [number, number];
  wipeOneIn?: number;
  /** One fault in this many (besides leader kills) replaces a manager: removed, wiped, a new one joined. */
  replaceOneIn?: number;
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


export async function runChaos(o: ChaosOptions): Promise<Summary> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  mkdirSync(o.outDir, { recursive: true });
  const { docker, host } = await dockerEngine();
  const rnd = new Random(o.seed);
  const c = await ProcessCluster.start({ managers: o.managers, extraArgs: ['--chaos', '--log-level', 'warn'], instrument: false });
  const history = new History();
  // Names of this run only (the pid tells runs apart), so another run's leftovers never count here.
  const services = Array.from({ length: o.services ?? 3 }, (_, k) => `chaos-${o.seed}-${process.pid}-${k}`);
  const cleanup = async () => {
    // Docker ANDs label filters: one query per service.
    for (const name of services) {
      for (const x of await docker.listContainers({ all: true, filters: { label: [`orch.service=${name}`] } }).catch(() => [])) await docker.getContainer(x.Id).remove({ force: true }).catch(() => undefined);
    }
  };
  // Shared by the clients; the nemesis swaps a replaced manager's address for its successor's.
  const addresses = [...c.addresses];
  const admin = chaosClient(addresses);
  const observer = new Observer(c, () => history.now());
  const nemesis = new Nemesis(c, admin, rnd.fork(), () => history.now(), {
    dockerHost: host,
    gapMs: o.gapMs ?? [1500, 3500],
    holdMs: o.holdMs ?? [800, 2500],
    wipeOneIn: o.wipeOneIn ?? 25,
    replaceOneIn: o.replaceOneIn ?? 10,
    clientAddresses: addresses,
  });
  const checks: CheckLine[] = [];
  const check = (name: string, ok: boolean, detail: string) => {
    checks.push({ name, ok, detail });
    log(`${ok ? 'PASS' : 'FAIL'} ${name}: ${detail}`);
  };
  try {
    await c.waitForLeader(20_000);
    for (let k = 1; k <= o.workers; k++) c.startWorker(`w${k}`, host);
    await until('all workers ready', 30_000, async () => (await admin.nodes()).filter((n) => n.status === 'ready').length === o.workers);
    log(`cluster up: ${o.managers} managers (${c.dir}), ${o.workers} workers; faults for ${(o.durationMs / 1000).toFixed(0)} s, seed ${o.seed}`);
    observer.start();
    const keys = Array.from({ length: o.keys ?? 5 }, (_, k) => `k${k}`);
    const loops: ClientLoop[] = [];
    for (let k = 0; k < (o.kvClients ?? 4); k++) loops.push(kvClient(k, addresses, keys, history, rnd.fork()));
    loops.push(serviceClient(100, addresses, services, history, rnd.fork()));
    nemesis.start();
    const t0 = Date.now();
    while (Date.now() - t0 < o.durationMs) {
      await sleep(Math.min(10_000, o.durationMs - (Date.now() - t0)));
      const n = history.counts();
      log(`${((Date.now() - t0) / 1000).toFixed(0)} s: ${n.ok} ok, ${n.unknown} unknown, ${n.fail} failed; ${nemesis.count()} faults`);
    }
    await nemesis.stop();
    for (const l of loops) l.stop();
    await Promise.all(loops.map((l) => l.done));

    // Heal everything and let the cluster settle.
    for (let k = 0; k < c.managers.length; k++) {
      if (!c.managers[k].running) c.spawn(k);
      else process.kill(c.managers[k].pid, 'SIGCONT');
    }
    for (const w of c.workers) if (!w.running) c.startWorker(w.name, host);
    await nemesis.healAll();
    await c.waitForLeader(30_000);
    // Final reads of every key, recorded like any other operation (they close the history).
    const finals = new Map<string, number>();
    for (const key of keys) {
      const call = history.now();
      const item = await until(`a final read of ${key}`, 30_000, async () => {
        try {
          return await admin.kvGet(`chaos/${key}`);
        } catch (err) {
          if ((err as { status?: number }).status === 404) return { key, value: null as unknown as string, version: 0 };
          throw err;
        }
      });
      finals.set(key, item.version);
      history.add({ kind: 'kv', key, client: 999, input: { op: 'get' }, output: { value: item.value, version: item.version === 0 ? null : item.version }, outcome: 'ok', call, ret: history.now() });
    }
    observer.stop();

    const kv = checkByKey(kvModel, history.kvOps());
    check('key/value history linearizable', kv.ok && !kv.inconclusive, kv.ok ? `${kv.operations} operations on ${kv.keys} keys${kv.inconclusive ? ' (INCONCLUSIVE: search bound hit)' : ''}` : `key ${kv.failedKey}: ${kv.explanation}`);
    const sv = checkByKey(serviceModel, history.serviceOps());
    check('service history linearizable', sv.ok && !sv.inconclusive, sv.ok ? `${sv.operations} operations on ${sv.keys} services` : `service ${sv.failedKey}: ${sv.explanation}`);
    let lost = 0;
    let acked = 0;
    for (const op of history.ops) {
      if (op.kind !== 'kv' || op.outcome !== 'ok' || op.client === 999) continue;
      const v = op.output && 'version' in op.output ? op.output.version : null;
      if (op.input.op === 'get' || v === null || (op.output && 'ok' in op.output && !op.output.ok)) continue;
      acked++;
      if ((finals.get(op.key) ?? 0) < v) lost++;
    }
    check('every acknowledged write present', lost === 0, `${acked} acknowledged writes; ${lost} newer than their key's final version`);

    const same = await until('every manager at the same applied state', 60_000, async () => {
      const st = await Promise.all(c.managers.map(async (m) => {
        const { request } = await import('undici');
        const res = await request(`http://${m.address}/raft/status?digest=true`, { headersTimeout: 2000, bodyTimeout: 2000 });
        return (await res.body.json()) as { applied: number; digest: string };
      }));
      return st.every((s) => s.applied === st[0].applied && s.digest === st[0].digest) ? st[0] : false;
    }).then(
      (s) => ({ ok: true, detail: `all ${o.managers} at index ${s.applied}, state digest ${s.digest.slice(0, 12)}` }),
      (err: Error) => ({ ok: false, detail: err.message }),
    );
    check('managers converge', same.ok, same.detail);

    const converged = await until('services converge', 90_000, async () => {
      const problems: string[] = [];
      const tasks = await admin.tasks({ all: false });
      const running = new Set(tasks.filter((t) => t.state === 'running').map((t) => t.id));
      for (const name of services) {
        let s;
        try {
          s = await admin.service(name);
        } catch {
          continue; // never created
        }
        const want = s.state === 'active' ? s.spec.replicas : 0;
        const live = s.tasks.filter((t) => t.desired === 'running' && t.state === 'running');
        const cs = await docker.listContainers({ filters: { label: [`orch.service=${name}`] } });
        const slots = new Set(cs.map((x) => x.Labels['orch.slot']));
        if (live.length !== want) problems.push(`${name}: ${live.length} running tasks, want ${want}`);
        if (cs.length !== want || slots.size !== cs.length) problems.push(`${name}: ${cs.length} containers on ${slots.size} slots, want ${want}`);
        for (const x of cs) if (!running.has(x.Labels['orch.task'])) problems.push(`${name}: container ${x.Id.slice(0, 12)} has no running task`);
      }
      if (problems.length) throw new Error(problems.join('; '));
      return true;
    }).then(
      () => ({ ok: true, detail: `${services.length} services: replicas running, one container per slot, none without a task` }),
      (err: Error) => ({ ok: false, detail: err.message }),
    );
    check('services converge', converged.ok, converged.detail);
  } catch (err) {
    check('the run itself', false, (err as Error).message);
  } finally {
    await nemesis.stop().catch(() => undefined);
    observer.stop();
    await admin.close();
    // The processes' logs are kept when something failed (summary.json names their dir).
    await c.stop(checks.some((x) => !x.ok));
    await cleanup();
  }

  // Longest stretch without an acknowledged write, from the history.
  const writes = history.ops.filter((x) => x.kind === 'kv' && x.outcome === 'ok' && x.input.op !== 'get').map((x) => x.ret).sort((a, b) => a - b);
  let longest = 0;
  for (let k = 1; k < writes.length; k++) longest = Math.max(longest, writes[k] - writes[k - 1]);
  const faults: Record<string, number> = {};
  for (const e of nemesis.events) faults[e.kind] = (faults[e.kind] ?? 0) + 1;
  const summary: Summary = {
    seed: o.seed,
    managers: o.managers,
    workers: o.workers,
    durationMs: o.durationMs,
    outcomes: history.counts(),
    faults,
    leaderChanges: Math.max(0, observer.leaderships().length - 1),
    longestUnavailableMs: longest,
    checks,
    ok: checks.length > 0 && checks.every((x) => x.ok),
  };
  writeFileSync(join(o.outDir, 'summary.txt'), summaryText(summary) + '\n');
  writeFileSync(join(o.outDir, 'summary.json'), JSON.stringify({ ...summary, faultEvents: nemesis.events, logs: summary.ok ? null : c.dir }, null, 2));
  writeFileSync(join(o.outDir, 'history.json'), JSON.stringify(history.ops));
  writeFileSync(join(o.outDir, 'timeline.html'), timelineHtml(summary, observer.samples, nemesis.events, history.ops));
  return summary;
}
