// The recent events of this manager's replica, in log order, for GET /v1/events: each event is
// named by the index of the entry that caused it and its place among that entry's events
// ("index-k"), so a client can resume after the last one it saw. Bounded: older events are
// dropped, and a client asking for them learns from which point the log still has them.
import type { ClusterEvent, StoredEvent } from '../../api/events.js';

export class EventLog {
  private items: StoredEvent[] = [];
  private readonly listeners = new Set<(e: StoredEvent) => void>();
  /** The highest index whose events were dropped (or lost to a snapshot install); 0 if none. */
  droppedThrough = 0;

  constructor(private readonly max = 10_000) {}

  /** Takes `events` over: they become the stored events (no copies: an entry may cause 100,000). */
  add(index: number, ts: number, events: ClusterEvent[]): void {
    const n = events.length;
    if (n > this.max && this.listeners.size === 0 && this.items.length + n > this.max + 1000) {
      // More events than are kept: the trimming below would drop all of this entry's events (it
      // never splits an entry) and every older one, so nothing needs to be stored.
      this.items = [];
      this.droppedThrough = index;
      return;
    }
    for (let k = 0; k < n; k++) {
      const s = events[k] as StoredEvent;
      s.index = index;
      s.k = k;
      s.ts = ts;
      this.items.push(s);
      for (const f of this.listeners) f(s);
    }
    if (this.items.length > this.max + 1000) {
      const cut = this.items.length - this.max;
      this.droppedThrough = this.items[cut - 1].index;
      // Never split one entry's events: drop all of the last dropped index.
      let k = cut;
      while (k < this.items.length && this.items[k].index === this.droppedThrough) k++;
      this.items = this.items.slice(k);
    }
  }

  /** A snapshot replaced the state: the events before it are unknown here. */
  reset(index: number): void {
    this.items = [];
    this.droppedThrough = index;
  }

  /** Events after the one named (index, k): with k = Infinity, those of later entries only. */
  after(index: number, k: number): StoredEvent[] {
    return this.items.filter((e) => e.index > index || (e.index === index && e.k > k));
  }

  subscribe(f: (e: StoredEvent) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }
}
