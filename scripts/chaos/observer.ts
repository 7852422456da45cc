// Watches every manager's own view (GET /raft/status) a few times a second, to learn who led when:
// the leader changes and the timeline of the report come from here.
import type { ProcessCluster } from '../../test/helpers/cluster.js';

export interface Sample {
  at: number;
  /** Per manager index: its role (or "down" when it did not answer), term and leader id. */
  views: { role: string; term: number; leader: number | null }[];
}

export class Observer {
  readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly c: ProcessCluster,
    private readonly now: () => number,
    private readonly everyMs = 200,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sample(), this.everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const at = this.now();
      const st = await Promise.all(this.c.managers.map((_, k) => this.c.status(k)));
      this.samples.push({ at, views: st.map((s) => (s ? { role: s.role, term: s.term, leader: s.role === 'leader' ? s.id : (s.leader ?? null) } : { role: 'down', term: 0, leader: null })) });
    } finally {
      this.busy = false;
    }
  }

  /** Distinct (term, leader) pairs seen, in order: each is one leadership. */
  leaderships(): { term: number; leader: number; at: number }[] {
    const out: { term: number; leader: number; at: number }[] = [];
    const seen = new Set<string>();
    for (const s of this.samples) {
      for (const v of s.views) {
        if (v.role !== 'leader' || v.leader === null) continue;
        const k = `${v.term}/${v.leader}`;
        if (seen.has(k)) continue;
        seen.add(k);
        out.push({ term: v.term, leader: v.leader, at: s.at });
      }
    }
    return out.sort((a, b) => a.term - b.term);
  }
}
