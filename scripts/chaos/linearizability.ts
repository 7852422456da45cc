// A linearizability checker for recorded client histories, after Wing & Gong's search with Lowe's
// just-in-time linearization and memoization (as Porcupine does it), applied per key (a history is
// linearizable if and only if each key's sub-history is: P-compositionality).
//
// An operation's outcome is one of: ok (it happened, between its call and its return, with the
// output seen), fail (it certainly did not happen: it is left out), or unknown (it may have happened
// at any time after its call, or never: its return is at infinity and any output is accepted, so
// it can be placed last, where it changes nothing that was observed).

export interface Operation<I, O> {
  client: number;
  input: I;
  /** Undefined when the outcome is unknown. */
  output: O | undefined;
  call: number;
  /** Infinity when the outcome is unknown. */
  return: number;
}

/**
 * A sequential specification. `step` gives the states the object may be in after the operation,
 * given that it answered `output` (undefined: unknown), or [] when that answer is impossible.
 * More than one state models an operation whose effect the answer does not pin down.
 */
export interface Model<S, I, O> {
  init(): S;
  step(state: S, input: I, output: O | undefined): S[];
  /** A string that is equal for equal states (for the memo of visited configurations). */
  key(state: S): string;
  describe?(input: I, output: O | undefined): string;
}

export interface CheckResult {
  ok: boolean;
  /** Operations checked (after dropping certain failures). */
  operations: number;
  /** When not ok: the longest prefix of operations that could be linearized, as text. */
  explanation?: string;
  /** True when the search gave up (too many configurations): the result is not a verdict. */
  inconclusive?: boolean;
}

interface Entry {
  id: number;
  isCall: boolean;
  time: number;
  /** For a call: its return entry. */
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

/** The events of a history as one doubly linked list ordered by time (calls first on equal times). */
function entries<I, O>(ops: Operation<I, O>[]): Entry {
  const evs: Entry[] = [];
  ops.forEach((op, id) => {
    const ret: Entry = { id, isCall: false, time: op.return, match: null, prev: null, next: null };
    const call: Entry = { id, isCall: true, time: op.call, match: ret, prev: null, next: null };
    evs.push(call, ret);
  });
  // A call and a return at the same instant may overlap: calls first is the permissive order.
  evs.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.id - b.id);
  const head: Entry = { id: -1, isCall: false, time: -Infinity, match: null, prev: null, next: null };
  let last = head;
  for (const e of evs) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}

function lift(e: Entry): void {
  e.prev!.next = e.next;
  if (e.next) e.next.prev = e.prev;
  const r = e.match!;
  r.prev!.next = r.next;
  if (r.next) r.next.prev = r.prev;
}

function unlift(e: Entry): void {
  const r = e.match!;
  r.prev!.next = r;
  if (r.next) r.next.prev = r;
  e.prev!.next = e;
  if (e.next) e.next.prev = e;
}

/** A growable bit set whose string form keys the memo. */
class Bits {
  private readonly words: Uint32Array;
  constructor(n: number) {
    this.words = new Uint32Array(Math.ceil(n / 32) || 1);
  }
  set(i: number): void {
    this.words[i >>> 5] |= 1 << (i & 31);
  }
  clear(i: number): void {
    this.words[i >>> 5] &= ~(1 << (i & 31));
  }
  key(): string {
    return Buffer.from(this.words.buffer, this.words.byteOffset, this.words.byteLength).toString('latin1');
  }
}

/** Checks one key's history. `maxStates` bounds the memo (the search is exponential in the worst case). */
export function checkOne<S, I, O>(model: Model<S, I, O>, history: Operation<I, O>[], maxStates = 5_000_000): CheckResult {
  const ops = history.filter((op) => op.return >= op.call);
  const head = entries(ops);
  const linearized = new Bits(ops.length);
  const seen = new Set<string>();
  // Each frame: the call linearized, the state before it, and the other states it might have led to.
  const stack: { entry: Entry; before: S; alternatives: S[] }[] = [];
  let state = model.init();
  let entry = head.next;
  let best = 0;
  let bestOrder: number[] = [];
  const tryStates = (e: Entry, before: S, next: S[]): boolean => {
    while (next.length) {
      const s = next.shift()!;
      linearized.set(e.id);
      const k = linearized.key() + '|' + model.key(s);
      if (!seen.has(k)) {
        seen.add(k);
        stack.push({ entry: e, before, alternatives: next });
        state = s;
        lift(e);
        return true;
      }
      linearized.clear(e.id);
    }
    return false;
  };
  while (head.next !== null) {
    if (seen.size > maxStates) return { ok: true, operations: ops.length, inconclusive: true };
    if (entry !== null && entry.isCall) {
      const op = ops[entry.id];
      if (tryStates(entry, state, model.step(state, op.input, op.output))) {
        if (stack.length > best) {
          best = stack.length;
          bestOrder = stack.map((f) => f.entry.id);
        }
        entry = head.next;
      } else entry = entry.next;
      continue;
    }
    // A return reached: the operation it ends cannot be left for later. Backtrack: undo the last
    // call linearized and try its other possible states, or move past it.
    const top = stack.pop();
    if (!top) return { ok: false, operations: ops.length, explanation: explain(model, ops, bestOrder) };
    unlift(top.entry);
    linearized.clear(top.entry.id);
    state = top.before;
    entry = tryStates(top.entry, top.before, top.alternatives) ? head.next : top.entry.next;
  }
  return { ok: true, operations: ops.length };
}

function explain<S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[], order: number[]): string {
  const show = (id: number) => {
    const op = ops[id];
    const what = model.describe ? model.describe(op.input, op.output) : `${JSON.stringify(op.input)} -> ${op.output === undefined ? 'unknown' : JSON.stringify(op.output)}`;
    return `client ${op.client} [${op.call}, ${op.return === Infinity ? 'inf' : op.return}] ${what}`;
  };
  const done = new Set(order);
  // The first operation (by call) outside the longest linearizable prefix is where it breaks.
  const stuck = ops.map((_, id) => id).filter((id) => !done.has(id)).sort((a, b) => ops[a].call - ops[b].call)[0];
  const tail = order.slice(-5).map(show);
  return `linearized ${order.length} of ${ops.length} operations; the last of them:\n  ${tail.join('\n  ')}\nno order fits this one after them (or before any that returned earlier):\n  ${stuck === undefined ? '?' : show(stuck)}`;
}

/** Checks a history of many keys, one key at a time. */
export function checkByKey<S, I, O>(model: Model<S, I, O>, history: (Operation<I, O> & { key: string })[], maxStates?: number): CheckResult & { keys: number; failedKey?: string } {
  const byKey = new Map<string, Operation<I, O>[]>();
  for (const op of history) {
    let l = byKey.get(op.key);
    if (!l) byKey.set(op.key, (l = []));
    l.push(op);
  }
  let operations = 0;
  let inconclusive = false;
  for (const [key, ops] of byKey) {
    const r = checkOne(model, ops, maxStates);
    operations += r.operations;
    inconclusive ||= r.inconclusive === true;
    if (!r.ok) return { ...r, operations, keys: byKey.size, failedKey: key };
  }
  return { ok: true, operations, keys: byKey.size, ...(inconclusive ? { inconclusive } : {}) };
}
