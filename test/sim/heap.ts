import { BinaryHeap } from '../../src/scheduler/heap.js';

/** Events ordered by (time, sequence): deterministic for equal times. */
export class EventHeap<T> {
  private readonly heap = new BinaryHeap<{ at: number; seq: number; value: T }>((x, y) => x.at < y.at || (x.at === y.at && x.seq < y.seq));
  private seq = 0;

  get size(): number {
    return this.heap.size;
  }

  push(at: number, value: T): void {
    this.heap.push({ at, seq: this.seq++, value });
  }

  peekTime(): number {
    return this.heap.peek()?.at ?? Infinity;
  }

  pop(): { at: number; value: T } | undefined {
    return this.heap.pop();
  }
}
