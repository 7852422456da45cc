// What this machine offers (capacity, at join) and uses (live usage, in heartbeats). The slow
// systeminformation calls are sampled in the background: currentLoad() blocks ~0.5 s on its first call.
import { cpus } from 'node:os';
import si from 'systeminformation';
import type { Capacity, Usage } from '../api/nodes.js';

export async function measureCapacity(): Promise<Capacity> {
  const [mem, fs] = await Promise.all([si.mem(), si.fsSize().catch(() => [])]);
  const root = fs.find((f) => f.mount === '/') ?? fs[0];
  return { cpu: cpus().length, memory: mem.total, disk: root ? Math.round(root.size) : 0 };
}

export class UsageSampler {
  latest: Usage = { cpu: 0, memory: 0, load: 0 };
  private timer: NodeJS.Timeout | null = null;

  start(periodMs: number): void {
    const sample = async () => {
      try {
        const [load, mem] = await Promise.all([si.currentLoad(), si.mem()]);
        this.latest = { cpu: load.currentLoad / 100, memory: mem.active, load: load.avgLoad };
      } catch {
        // Keep the last sample; usage is advisory.
      }
    };
    void sample();
    this.timer = setInterval(() => void sample(), periodMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
