import type { FastifyBaseLogger } from 'fastify';
import type { RaftNode } from '../raft/index.js';
import { DEFAULT_HEAP_TRIM, HeapTrimmer, loadFullGc } from './heap-trim.js';
import type { ManagerMetrics } from './metrics.js';

/** Starts the heap trim (heap-trim.ts) unless --heap-trim-mib is 0 or this V8 gives no full collection. */
export function startHeapTrim(mib: number, node: RaftNode, metrics: ManagerMetrics, log: FastifyBaseLogger): HeapTrimmer | null {
  if (mib === 0) return null;
  const gc = loadFullGc();
  if (!gc) {
    log.warn('heap trim is off: this node does not allow a full collection to be run (v8 --expose-gc)');
    return null;
  }
  const trimmer = new HeapTrimmer({
    policy: { ...DEFAULT_HEAP_TRIM, minUsedBytes: mib * 2 ** 20 },
    applied: () => node.metrics.applied,
    gc,
    onTrim: (t) => {
      metrics.observeHeapTrim(t);
      log.debug(`heap trim: ${Math.round(t.beforeBytes / 2 ** 20)} -> ${Math.round(t.afterBytes / 2 ** 20)} MiB used, a ${Math.round(t.pauseMs)} ms pause`);
    },
  });
  trimmer.start();
  return trimmer;
}
