// What the chaos clients did, as a history: every operation with its call and return times (ms
// since the run began) and its outcome: ok (with what was answered), fail (certainly not done), or
// unknown (perhaps done, perhaps not: a timeout, a lost connection, a leader lost mid-way).
import type { Operation } from './linearizability.js';
import type { KvInput, KvOutput, ServiceInput, ServiceOutput } from './models.js';

export type Outcome = 'ok' | 'fail' | 'unknown';

interface Base {
  key: string;
  client: number;
  outcome: Outcome;
  call: number;
  ret: number;
  /** For a failure or an unknown outcome: why. */
  error?: string;
}

export type Recorded = (Base & { kind: 'kv'; input: KvInput; output?: KvOutput }) | (Base & { kind: 'service'; input: ServiceInput; output?: ServiceOutput });

export class History {
  readonly ops: Recorded[] = [];
  private readonly t0 = performance.now();

  now(): number {
    return performance.now() - this.t0;
  }

  add(op: Recorded): void {
    this.ops.push(op);
  }

  /** The operations of one kind in the checker's form: failures left out, unknowns open-ended. */
  private checkable(kind: Recorded['kind']): unknown {
    return this.ops
      .filter((o) => o.kind === kind && o.outcome !== 'fail')
      .map((o) => ({ key: o.key, client: o.client, input: o.input, output: o.outcome === 'ok' ? o.output : undefined, call: o.call, return: o.outcome === 'ok' ? o.ret : Infinity }));
  }

  kvOps(): (Operation<KvInput, KvOutput> & { key: string })[] {
    return this.checkable('kv') as (Operation<KvInput, KvOutput> & { key: string })[];
  }

  serviceOps(): (Operation<ServiceInput, ServiceOutput> & { key: string })[] {
    return this.checkable('service') as (Operation<ServiceInput, ServiceOutput> & { key: string })[];
  }

  counts(): Record<Outcome, number> {
    const c: Record<Outcome, number> = { ok: 0, fail: 0, unknown: 0 };
    for (const o of this.ops) c[o.outcome]++;
    return c;
  }
}
