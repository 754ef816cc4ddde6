/**
 * Server-sent events as the pages take them: an EventSource (the session cookie goes with it, so the
 * stream is authenticated as every call is) whose messages are queued and handed to the page at
 * most once per animation frame, in slices of a few milliseconds, so a burst (a 10,000-VM wave
 * finishing) never blocks the main thread. The browser resumes a dropped stream with
 * `Last-Event-ID`; when it gives up (the server answered an error) we reopen with `?after=` the
 * last id seen, after a pause. `event: end` closes it for good.
 */

export interface Incoming {
  id: string;
  event: { type: string; at?: string; [key: string]: unknown };
}

export interface LiveOptions {
  /** The types of one-event-per-message streams (the batched stream sends `event: batch`). */
  types?: readonly string[];
  /** Handed the events of one slice; return nothing. */
  onEvents(events: Incoming[]): void;
  onState?(state: 'open' | 'reconnecting' | 'ended'): void;
  /** Time per frame spent handing events over, ms. */
  budgetMs?: number;
}

const SLICE = 500;

export function follow(url: string, options: LiveOptions): { close(): void; lastId(): string | undefined } {
  let source: EventSource | undefined;
  let last: string | undefined;
  let closed = false;
  let retry: ReturnType<typeof setTimeout> | undefined;
  const queue: Incoming[] = [];
  let head = 0;
  let scheduled = false;
  const budget = options.budgetMs ?? 8;

  const drain = (): void => {
    scheduled = false;
    const until = performance.now() + budget;
    while (head < queue.length && performance.now() < until) {
      const slice = queue.slice(head, head + SLICE);
      head += slice.length;
      options.onEvents(slice);
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
  const push = (item: Incoming): void => {
    queue.push(item);
  };

  const onBatch = (message: MessageEvent<string>): void => {
    if (message.lastEventId) last = message.lastEventId;
    const items = JSON.parse(message.data) as unknown[];
    for (const item of items) {
      const value = item as Partial<Incoming> & { type?: string };
      if (value.event !== undefined && typeof value.id === 'string') push(value as Incoming);
      else push({ id: message.lastEventId, event: value as Incoming['event'] });
    }
    schedule();
  };
  const onOne = (message: MessageEvent<string>): void => {
    if (message.lastEventId) last = message.lastEventId;
    push({ id: message.lastEventId, event: JSON.parse(message.data) as Incoming['event'] });
    schedule();
  };

  const open = (): void => {
    if (closed) return;
    const sep = url.includes('?') ? '&' : '?';
    source = new EventSource(last === undefined ? url : `${url}${sep}after=${encodeURIComponent(last)}`, {
      withCredentials: true,
    });
    source.addEventListener('open', () => options.onState?.('open'));
    source.addEventListener('batch', onBatch as EventListener);
    source.addEventListener('message', onOne as EventListener);
    for (const type of options.types ?? []) source.addEventListener(type, onOne as EventListener);
    source.addEventListener('end', () => {
      closed = true;
      source?.close();
      options.onState?.('ended');
    });
    source.addEventListener('error', () => {
      if (closed) return;
      options.onState?.('reconnecting');
      if (source?.readyState === EventSource.CLOSED) {
        // The browser gave up (an error answer): reopen from the last id we saw.
        retry = setTimeout(open, 2000);
      }
    });
  };
  open();
  return {
    close: () => {
      closed = true;
      if (retry !== undefined) clearTimeout(retry);
      source?.close();
    },
    lastId: () => last,
  };
}
