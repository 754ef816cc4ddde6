/** A binary min-heap of timed events; ties run in insertion order, so runs are deterministic. */
export interface SimEvent {
  at: number;
  order: number;
  run: (at: number) => void;
}

export class EventQueue {
  private readonly heap: SimEvent[] = [];
  private counter = 0;

  get size(): number {
    return this.heap.length;
  }

  schedule(at: number, run: (at: number) => void): void {
    const event: SimEvent = { at, order: this.counter++, run };
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!less(event, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = event;
  }

  peekTime(): number | undefined {
    return this.heap[0]?.at;
  }

  pop(): SimEvent | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && less(heap[r]!, heap[l]!) ? r : l;
      if (!less(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

function less(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}
