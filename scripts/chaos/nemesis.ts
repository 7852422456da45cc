// The nemesis: on a schedule drawn from the seed, it injects one fault at a time into a cluster of
// real processes, holds it, heals it, and logs what it did. Faults: kill -9 of the leader (every
// other fault), of a random manager or worker; SIGSTOP/SIGCONT of a manager; Raft partitions that
// are one-way (a manager's outgoing or incoming messages lost) or two-way (a manager isolated; with
// 5 managers, a 2/3 split); a worker cut off from every manager; and now and then a manager's data
// dir wiped while it is down, so that it rejoins empty; and membership changes: a manager (often the
// leader) removed with the API, its data wiped, and a new manager joined (new address, new id).
import { request } from 'undici';
import type { ProcessCluster } from '../../test/helpers/cluster.js';
import type { FaultSpec } from '../../src/api/chaos.js';
import type { OrchClient } from '../../src/client/client.js';
import type { Random } from './random.js';
import { until } from './until.js';

export type FaultKind =
  | 'kill-leader'
  | 'kill-manager'
  | 'kill-worker'
  | 'pause-manager'
  | 'partition-out'
  | 'partition-in'
  | 'partition-isolate'
  | 'partition-split'
  | 'isolate-worker'
  | 'wipe-manager'
  | 'replace-manager';

export interface FaultEvent {
  kind: FaultKind;
  /** Who: "m2" (manager index + 1), "w1", or "m1,m2|m3,m4,m5" for a split. */
  target: string;
  start: number;
  end: number | null;
}

export interface NemesisOptions {
  dockerHost: string;
  /** Ms between faults and how long each is held: drawn from these ranges. */
  gapMs: [number, number];
  holdMs: [number, number];
  /** One fault in this many (besides leader kills) wipes a manager; 0: never. */
  wipeOneIn: number;
  /** One fault in this many (besides leader kills) replaces a manager (remove, then join anew); 0: never. */
  replaceOneIn: number;
  /** The managers the clients talk to: a replaced manager's address is swapped for its successor's in place. */
  clientAddresses: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Nemesis {
  readonly events: FaultEvent[] = [];
  private running = false;
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly c: ProcessCluster,
    private readonly client: OrchClient,
    private readonly rnd: Random,
    private readonly now: () => number,
    private readonly o: NemesisOptions,
  ) {}

  start(): void {
    this.running = true;
    this.done = this.loop();
  }

  /** Stops injecting, waits for the fault in progress to be healed. */
  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  count(kind?: FaultKind): number {
    return kind ? this.events.filter((e) => e.kind === kind).length : this.events.length;
  }

  private async loop(): Promise<void> {
    let n = 0;
    while (this.running) {
      await sleep(this.rnd.between(...this.o.gapMs));
      if (!this.running) break;
      const kind = n++ % 2 === 0 ? 'kill-leader' : this.pickOther();
      try {
        await this.inject(kind, this.rnd.between(...this.o.holdMs));
      } catch (err) {
        // A fault that could not be set up (no leader at that moment...) is skipped, not fatal.
        process.stderr.write(`nemesis: ${kind} skipped: ${(err as Error).message}\n`);
      }
    }
  }

  private pickOther(): FaultKind {
    if (this.o.wipeOneIn > 0 && this.rnd.between(1, this.o.wipeOneIn) === 1) return 'wipe-manager';
    if (this.o.replaceOneIn > 0 && this.rnd.between(1, this.o.replaceOneIn) === 1) return 'replace-manager';
    const kinds: FaultKind[] = ['kill-manager', 'kill-worker', 'pause-manager', 'partition-out', 'partition-in', 'partition-isolate', 'isolate-worker'];
    if (this.c.managers.length >= 5) kinds.push('partition-split');
    return this.rnd.pick(kinds);
  }

  private async leaderIndex(): Promise<number> {
    const st = await Promise.all(this.c.managers.map((_, k) => this.c.status(k)));
    let best = -1;
    st.forEach((s, k) => {
      if (s?.role === 'leader' && (best < 0 || s.term > st[best]!.term)) best = k;
    });
    if (best < 0) throw new Error('no leader to kill');
    return best;
  }

  private async setFaults(k: number, f: FaultSpec): Promise<void> {
    const res = await request(`http://${this.c.managers[k].address}/chaos/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(f), headersTimeout: 2000, bodyTimeout: 2000 });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`PUT /chaos/faults on m${k + 1}: HTTP ${res.statusCode}`);
  }

  /** Clears the faults of every running manager (retried: a manager may be restarting). */
  async healAll(): Promise<void> {
    for (let k = 0; k < this.c.managers.length; k++) {
      if (!this.c.managers[k].running) continue;
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          await this.setFaults(k, {});
          break;
        } catch {
          await sleep(250);
        }
      }
    }
  }

  /** The Raft id of manager index k (ids follow the sorted --peers; a joined manager's was learned). */
  private idOf(k: number): number {
    return this.c.managers[k].joinedId ?? [...this.c.initialPeers].sort().indexOf(this.c.managers[k].address) + 1;
  }


  /**
   * Removes manager k from the cluster with the API (the leader hands over first if it is k), waits
   * for it to stop, wipes its data, and joins a new manager at the same address: it gets a new id,
   * catches up as a learner, and is promoted.
   */
  private async replace(k: number, removed: () => void): Promise<string> {
    const c = this.c;
    const m = c.managers[k];
    const id = this.idOf(k);
    // Refused (409) when it would leave no answering majority: then this fault is skipped. A removal
    // whose answer was lost may still have happened: the configuration says.
    await until(`removal of manager ${id}`, 30_000, async () => {
      try {
        return (await this.client.removeManager(id)).removed === id;
      } catch (err) {
        if ((err as { status?: number }).status === 409) throw Object.assign(new Error((err as Error).message), { fatal: true });
        const entry = (await this.client.cluster()).managers.find((x) => x.id === id);
        const gone = entry === undefined || entry.suffrage === 'none';
        if (gone) return true;
        throw err;
      }
    });
    removed(); // counted as a fault only once it happened (a refused removal is a skipped fault)
    // It stops by itself once told; a manager that was down or cut off is killed.
    await Promise.race([m.exited, sleep(5_000)]);
    if (m.running) await c.kill(k);
    c.wipe(k);
    c.retire(k);
    const via = c.managers.filter((x) => x.running).map((x) => x.address).join(',');
    const nk = await c.addManager(via);
    const nm = c.managers[nk];
    const slot = this.o.clientAddresses.indexOf(m.address);
    if (slot >= 0) this.o.clientAddresses[slot] = nm.address;
    const st = await until(`manager at ${nm.address} joined`, 30_000, () => c.status(nk));
    nm.joinedId = st.id;
    await until(`manager ${st.id} promoted`, 60_000, async () => (await this.client.cluster()).managers.some((x) => x.id === st.id && x.suffrage === 'voter'));
    return `m${id}->m${st.id}`;
  }

  private async inject(kind: FaultKind, hold: number): Promise<void> {
    const c = this.c;
    const all = c.managers.map((_, k) => k);
    const ev: FaultEvent = { kind, target: '', start: this.now(), end: null };
    const record = (target: string) => {
      ev.target = target;
      ev.start = this.now();
      this.events.push(ev);
    };
    switch (kind) {
      case 'kill-leader':
      case 'kill-manager':
      case 'wipe-manager': {
        let k: number;
        if (kind === 'kill-leader') k = await this.leaderIndex();
        else {
          const leader = await this.leaderIndex().catch(() => -1);
          // A wiped manager restarts under its old id, which only --peers managers do; a joined one
          // that lost its data must be replaced (replace-manager) instead.
          const candidates = all.filter((x) => c.managers[x].running && (kind !== 'wipe-manager' || (x !== leader && !c.managers[x].joinVia)));
          if (candidates.length === 0) throw new Error(`no manager to ${kind}`);
          k = this.rnd.pick(candidates);
        }
        record(`m${k + 1}`);
        await c.kill(k);
        if (kind === 'wipe-manager') c.wipe(k);
        await sleep(hold);
        c.spawn(k);
        break;
      }
      case 'replace-manager': {
        // Most often the leader, the hardest case (it must hand over first).
        const leader = await this.leaderIndex().catch(() => -1);
        const running = all.filter((x) => c.managers[x].running);
        const k = leader >= 0 && this.rnd.next() < 0.5 ? leader : this.rnd.pick(running);
        const target = `m${this.idOf(k)}`;
        ev.target = await this.replace(k, () => record(target));
        break;
      }
      case 'kill-worker': {
        const w = this.rnd.pick(c.workers);
        record(w.name);
        if (w.running) {
          process.kill(w.pid, 'SIGKILL');
          await w.exited;
        }
        await sleep(hold);
        c.startWorker(w.name, this.o.dockerHost);
        break;
      }
      case 'pause-manager': {
        const k = this.rnd.pick(all.filter((x) => c.managers[x].running));
        record(`m${k + 1}`);
        c.signal(k, 'SIGSTOP');
        await sleep(hold);
        c.signal(k, 'SIGCONT');
        break;
      }
      case 'partition-out':
      case 'partition-in':
      case 'partition-isolate': {
        // Usually the leader (the interesting case), sometimes a follower.
        const leader = await this.leaderIndex().catch(() => -1);
        const k = leader >= 0 && this.rnd.next() < 0.7 ? leader : this.rnd.pick(all);
        const others = all.filter((x) => x !== k).map((x) => this.idOf(x));
        record(`m${k + 1}`);
        await this.setFaults(k, { ...(kind !== 'partition-in' ? { dropTo: others } : {}), ...(kind !== 'partition-out' ? { dropFrom: others } : {}) });
        await sleep(hold);
        await this.setFaults(k, {});
        break;
      }
      case 'partition-split': {
        const shuffled = [...all].sort(() => this.rnd.next() - 0.5);
        const minority = shuffled.slice(0, Math.floor(all.length / 2));
        const majority = shuffled.slice(minority.length);
        record(`${minority.map((x) => `m${x + 1}`).join(',')}|${majority.map((x) => `m${x + 1}`).join(',')}`);
        const ids = (xs: number[]) => xs.map((x) => this.idOf(x));
        await Promise.all(all.map((k) => (minority.includes(k) ? this.setFaults(k, { dropTo: ids(majority), dropFrom: ids(majority) }) : this.setFaults(k, { dropTo: ids(minority), dropFrom: ids(minority) })).catch(() => undefined)));
        await sleep(hold);
        await this.healAll();
        break;
      }
      case 'isolate-worker': {
        const w = this.rnd.pick(c.workers);
        const node = (await this.client.nodes()).find((n) => n.name === w.name);
        if (!node) throw new Error(`worker ${w.name} is not registered`);
        record(w.name);
        await Promise.all(all.filter((k) => c.managers[k].running).map((k) => this.setFaults(k, { isolateWorkers: [node.id] }).catch(() => undefined)));
        await sleep(hold);
        await this.healAll();
        break;
      }
    }
    ev.end = this.now();
  }
}
