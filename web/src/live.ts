/**
 * Server-sent events as the pages take them: the stream is read and parsed in a Web Worker
 * (stream.worker.ts: an EventSource, the session cookie going with it, resumed by Last-Event-ID
 * after a drop), and its events are queued here and handed to the page at most once per animation
 * frame, in slices of a few milliseconds, so a burst (a 10,000-VM wave finishing) never blocks the
 * main thread. `event: end` closes it for good.
 */

export interface Incoming {
  id: string;
  event: { type: string; at?: string; [key: string]: unknown };
}

export interface LiveOptions {
  /** The types of one-event-per-message streams (the batched stream sends `event: batch`). */
  types?: readonly string[];
  /**
   * Handed the events of one slice, and how many events the worker left out since the last slice
   * (with `keep`); return nothing.
   */
  onEvents(events: Incoming[], skipped: number): void;
  /**
   * Only the events the page folds, slimmed to these fields (the worker drops the others and
   * counts them): a 10,000-VM failover's log is 130,000 events, most of them VM steps the page's
   * timeline does not draw, and every object handed to the main thread costs it a copy and GC.
   */
  keep?: KeepRule;
  onState?(state: 'open' | 'reconnecting' | 'ended'): void;
  /** Time per frame spent handing events over, ms. */
  budgetMs?: number;
}

/** Which events to hand over: by type, `step-*` only for steps with one of these prefixes. */
export interface KeepRule {
  types: readonly string[];
  stepPrefixes: readonly string[];
  fields: readonly string[];
}

export type ToStreamWorker =
  | { kind: 'open'; url: string; types: readonly string[]; keep?: KeepRule }
  | { kind: 'close' };
export type FromStreamWorker =
  | { kind: 'events'; events: Incoming[]; lastId: string; skipped?: number }
  | { kind: 'state'; state: 'open' | 'reconnecting' | 'ended' };

const SLICE = 100;

export function follow(url: string, options: LiveOptions): { close(): void; lastId(): string | undefined } {
  let last: string | undefined;
  let closed = false;
  const queue: Incoming[] = [];
  let head = 0;
  let skipped = 0;
  let scheduled = false;
  const budget = options.budgetMs ?? 4;

  const drain = (): void => {
    scheduled = false;
    const until = performance.now() + budget;
    while (head < queue.length && performance.now() < until) {
      const slice = queue.slice(head, head + SLICE);
      head += slice.length;
      // The skipped count goes with the last slice of what is queued (they came before it).
      const left = head >= queue.length ? skipped : 0;
      skipped -= left;
      options.onEvents(slice, left);
    }
    if (head >= queue.length && skipped > 0) {
      options.onEvents([], skipped);
      skipped = 0;
    }
    if (head >= queue.length) {
      queue.length = 0;
      head = 0;
    } else schedule();
  };
  const schedule = (): void => {
    if (scheduled || closed) return;
    scheduled = true;
    requestAnimationFrame(drain);
  };

  const worker = new Worker(new URL('./stream.worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (message: MessageEvent<FromStreamWorker>) => {
    const data = message.data;
    if (data.kind === 'events') {
      if (data.lastId) last = data.lastId;
      skipped += data.skipped ?? 0;
      for (const item of data.events) queue.push(item);
      schedule();
    } else options.onState?.(data.state);
  };
  const absolute = new URL(url, location.href).href;
  worker.postMessage({
    kind: 'open',
    url: absolute,
    types: options.types ?? [],
    ...(options.keep === undefined ? {} : { keep: options.keep }),
  } satisfies ToStreamWorker);
  return {
    close: () => {
      closed = true;
      worker.postMessage({ kind: 'close' } satisfies ToStreamWorker);
      worker.terminate();
    },
    lastId: () => last,
  };
}
