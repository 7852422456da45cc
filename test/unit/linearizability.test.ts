// The chaos suite's linearizability checker on known-good and known-bad histories, and on large
// histories made by a simulated linearizable register (which must pass, quickly), and the same
// with one read corrupted (which must fail).
import t from 'tap';
import fc from 'fast-check';
import { checkByKey, checkOne, type Operation } from '../../scripts/chaos/linearizability.js';
import { kvModel, serviceModel, type KvInput, type KvOutput, type ServiceInput, type ServiceOutput } from '../../scripts/chaos/models.js';

type KvOp = Operation<KvInput, KvOutput>;
const put = (client: number, value: string, call: number, ret: number, version?: number): KvOp => ({ client, input: { op: 'put', value }, output: version === undefined ? undefined : { version }, call, return: version === undefined ? Infinity : ret });
const get = (client: number, value: string | null, version: number | null, call: number, ret: number): KvOp => ({ client, input: { op: 'get' }, output: { value, version }, call, return: ret });
const cas = (client: number, value: string, expect: number, call: number, ret: number, out: KvOutput | undefined): KvOp => ({ client, input: { op: 'cas', value, expect }, output: out, call, return: out === undefined ? Infinity : ret });

t.test('known-good histories pass', async (t) => {
  t.ok(checkOne(kvModel, [put(1, 'a', 0, 1, 5), get(2, 'a', 5, 2, 3)]).ok, 'a write, then a read of it');
  t.ok(checkOne(kvModel, [put(1, 'a', 0, 10, 5), get(2, null, null, 1, 2), get(3, 'a', 5, 3, 4)]).ok, 'reads during a write may see before or after');
  t.ok(checkOne(kvModel, [put(1, 'a', 0, 1, 5), put(2, 'b', 2, 8, 6), get(3, 'b', 6, 3, 4), get(3, 'b', 6, 5, 6)]).ok, 'a write may take effect before it returns');
  t.ok(checkOne(kvModel, [put(1, 'x', 0, 0), get(2, null, null, 1, 2), get(2, 'x', 9, 3, 4)]).ok, 'an unknown write may take effect late');
  t.ok(checkOne(kvModel, [put(1, 'x', 0, 0), get(2, null, null, 5, 6)]).ok, 'or never');
  t.ok(checkOne(kvModel, [put(1, 'a', 0, 1, 5), cas(2, 'b', 5, 2, 3, { ok: true, version: 7 }), cas(3, 'c', 5, 4, 5, { ok: false }), get(1, 'b', 7, 6, 7)]).ok, 'compare-and-set: one wins, the stale one is refused');
  t.ok(checkOne(kvModel, [put(1, 'a', 0, 1, 5), cas(2, 'b', 5, 2, 3, undefined), get(1, 'b', 8, 6, 7)]).ok, 'an unknown compare-and-set that happened');
  t.ok(checkOne(kvModel, [put(1, 'a', 0, 1, 5), cas(2, 'b', 5, 2, 3, undefined), get(1, 'a', 5, 6, 7)]).ok, 'and one that did not');
});

t.test('known-bad histories are flagged: a lost write, a stale read, a never-written value', async (t) => {
  const lost = checkOne(kvModel, [put(1, 'x', 0, 1, 5), get(2, null, null, 2, 3)]);
  t.notOk(lost.ok, 'a lost write: acknowledged, then not there');
  t.match(lost.explanation, /get -> \{"value":null,"version":null\}/, 'the explanation names the read');
  t.notOk(checkOne(kvModel, [put(1, 'a', 0, 1, 5), put(1, 'b', 2, 3, 6), get(2, 'a', 5, 4, 5)]).ok, 'a stale read');
  t.notOk(checkOne(kvModel, [put(1, 'a', 0, 1, 5), get(2, 'zzz', 9, 2, 3)]).ok, 'a read of a value never written');
  t.notOk(checkOne(kvModel, [put(1, 'x', 0, 0), get(2, 'x', 9, 1, 2), get(2, null, null, 3, 4)]).ok, 'an unknown write seen, then unseen');
  t.notOk(checkOne(kvModel, [put(1, 'a', 0, 1, 5), put(1, 'b', 2, 3, 6), cas(2, 'c', 5, 4, 5, { ok: true, version: 7 })]).ok, 'a compare-and-set that won against a version already replaced');
  t.notOk(checkOne(kvModel, [put(1, 'a', 0, 1, 5), get(2, 'a', 4, 2, 3)]).ok, 'the right value at the wrong version');
  const byKey = checkByKey(kvModel, [{ ...put(1, 'a', 0, 1, 5), key: 'k1' }, { ...get(2, 'a', 5, 2, 3), key: 'k2' }]);
  t.same([byKey.ok, byKey.failedKey], [false, 'k2'], 'keys are independent: a value of k1 is not in k2');
});

t.test('the service model: create, scale, stop, read', async (t) => {
  type Op = Operation<ServiceInput, ServiceOutput>;
  const op = (client: number, input: ServiceInput, output: ServiceOutput | undefined, call: number, ret: number): Op => ({ client, input, output, call, return: output === undefined ? Infinity : ret });
  t.ok(checkOne(serviceModel, [op(1, { op: 'get' }, { missing: true }, 0, 1), op(1, { op: 'create', replicas: 2 }, { ok: true }, 2, 3), op(2, { op: 'scale', replicas: 5 }, { ok: true }, 4, 5), op(3, { op: 'get' }, { replicas: 5, active: true }, 6, 7), op(1, { op: 'stop' }, { ok: true }, 8, 9), op(2, { op: 'get' }, { replicas: 5, active: false }, 10, 11)]).ok, 'a valid life');
  t.notOk(checkOne(serviceModel, [op(1, { op: 'create', replicas: 2 }, { ok: true }, 0, 1), op(2, { op: 'scale', replicas: 5 }, { ok: true }, 2, 3), op(3, { op: 'get' }, { replicas: 2, active: true }, 4, 5)]).ok, 'a stale replica count');
  t.notOk(checkOne(serviceModel, [op(1, { op: 'create', replicas: 2 }, { ok: true }, 0, 1), op(3, { op: 'get' }, { missing: true }, 2, 3)]).ok, 'a created service that vanished');
  t.ok(checkOne(serviceModel, [op(1, { op: 'scale', replicas: 3 }, undefined, 0, 1), op(3, { op: 'get' }, { missing: true }, 2, 3)]).ok, 'an unknown scale of a missing service changes nothing');
});

/** A history of a linearizable register under concurrency: each operation takes effect at a random instant within its interval. */
function simulate(seed: number, clients: number, perClient: number, unknownRate: number): KvOp[] {
  let x = seed >>> 0 || 1;
  const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const events: { at: number; op: KvOp; apply: () => void }[] = [];
  const clock = new Array(clients).fill(0);
  let value: string | null = null;
  let version: number | null = null;
  let nextVersion = 1;
  const ops: KvOp[] = [];
  for (let c = 0; c < clients; c++) {
    for (let k = 0; k < perClient; k++) {
      const call = clock[c] + rnd() * 3;
      const ret = call + 0.5 + rnd() * 6;
      clock[c] = ret;
      const at = call + rnd() * (ret - call);
      const r = rnd();
      const unknown = rnd() < unknownRate;
      let op: KvOp;
      if (r < 0.4) {
        const v = `c${c}-${k}`;
        op = { client: c, input: { op: 'put', value: v }, output: undefined, call, return: ret };
        events.push({ at, op, apply: () => ((value = v), (version = nextVersion++), (op.output = { version }), undefined) });
      } else if (r < 0.55) {
        op = { client: c, input: { op: 'cas', value: `c${c}-${k}`, expect: 0 }, output: undefined, call, return: ret };
        const expect = rnd() < 0.5 ? -1 : 0; // 0: "the version I last saw" (set when it runs)
        events.push({
          at,
          op,
          apply: () => {
            const e = expect === 0 && version !== null ? version : 999_999;
            (op.input as { expect: number }).expect = e;
            if (version === e) {
              value = (op.input as { value: string }).value;
              version = nextVersion++;
              op.output = { ok: true, version };
            } else op.output = { ok: false };
          },
        });
      } else {
        op = { client: c, input: { op: 'get' }, output: undefined, call, return: ret };
        events.push({ at, op, apply: () => ((op.output = { value, version }), undefined) });
      }
      if (unknown && op.input.op !== 'get') {
        const ev = events[events.length - 1];
        const apply = ev.apply;
        const happened = rnd() < 0.5;
        ev.apply = () => {
          if (happened) apply();
          else if (op.input.op === 'cas') (op.input as { expect: number }).expect = 999_999;
          op.output = undefined;
          op.return = Infinity;
        };
      }
      ops.push(op);
    }
  }
  events.sort((a, b) => a.at - b.at);
  for (const e of events) e.apply();
  return ops;
}

t.test('1,000+ operations on one key, 8 clients, 5% unknown: accepted in under a second', async (t) => {
  const ops = simulate(7, 8, 150, 0.05);
  const t0 = performance.now();
  const r = checkOne(kvModel, ops);
  const ms = performance.now() - t0;
  t.ok(r.ok && !r.inconclusive, `${r.operations} operations linearizable`);
  t.ok(ms < 1000, `checked in ${ms.toFixed(0)} ms`);
});

t.test('property: simulated linearizable histories pass; the same with one read corrupted fails', async (t) => {
  let runs = 0;
  const seed = 20261123;
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 2, max: 6 }), fc.nat(), (s, clients, pick) => {
      const ops = simulate(s, clients, 25, 0.1);
      if (!checkOne(kvModel, ops).ok) throw new Error(`a linearizable history was refused (history seed ${s})`);
      const reads = ops.filter((o) => o.input.op === 'get' && o.output !== undefined);
      if (reads.length) {
        const r = reads[pick % reads.length];
        r.output = { value: 'never-written', version: 12345 };
        if (checkOne(kvModel, ops).ok) throw new Error(`a read of a never-written value was accepted (history seed ${s})`);
      }
      runs++;
    }),
    { numRuns: 300, seed },
  );
  t.equal(runs, 300, `300 histories (fast-check seed ${seed}; a failure prints its replay)`);
});
