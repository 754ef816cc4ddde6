/**
 * One server-sent-event stream, read off the main thread: the EventSource (the session cookie goes
 * with it), the JSON parse of each message (a batch of a 10,000-VM failover is megabytes), and the
 * resume after a drop (the browser's own, by Last-Event-ID; or, when it gave up, a new stream from
 * `?after=` the last id). The page is posted the events in chunks small enough to take in a frame.
 */
import type { FromStreamWorker, Incoming, KeepRule, ToStreamWorker } from './live.ts';

const CHUNK = 250;
let source: EventSource | undefined;
let last: string | undefined;
let closed = false;
let retry: ReturnType<typeof setTimeout> | undefined;

const post = (message: FromStreamWorker): void => (self as unknown as Worker).postMessage(message);

let keep: KeepRule | undefined;

/** The event slimmed to the rule's fields, or undefined when the page does not fold it. */
function kept(item: Incoming, rule: KeepRule): Incoming | undefined {
  const event = item.event;
  if (!rule.types.includes(event.type)) return undefined;
  if (event.type.startsWith('step-') && event.type !== 'step-paused') {
    const step = String(event.step);
    if (!rule.stepPrefixes.some((prefix) => step.startsWith(prefix))) return undefined;
  }
  const slim: Incoming['event'] = { type: event.type };
  for (const field of rule.fields) if (event[field] !== undefined) slim[field] = event[field];
  return { id: item.id, event: slim };
}

function deliver(items: FromStreamWorker & { kind: 'events' }): void {
  let events = items.events;
  let skipped = 0;
  if (keep !== undefined) {
    const rule = keep;
    const slim: Incoming[] = [];
    for (const item of events) {
      const one = kept(item, rule);
      if (one === undefined) skipped++;
      else slim.push(one);
    }
    events = slim;
  }
  if (events.length === 0) {
    post({ kind: 'events', events: [], lastId: items.lastId, skipped });
    return;
  }
  for (let i = 0; i < events.length; i += CHUNK)
    post({
      kind: 'events',
      events: events.slice(i, i + CHUNK),
      lastId: items.lastId,
      ...(i === 0 && skipped > 0 ? { skipped } : {}),
    });
}

function open(url: string, types: readonly string[]): void {
  if (closed) return;
  const sep = url.includes('?') ? '&' : '?';
  source = new EventSource(last === undefined ? url : `${url}${sep}after=${encodeURIComponent(last)}`, {
    withCredentials: true,
  });
  source.addEventListener('open', () => post({ kind: 'state', state: 'open' }));
  const onBatch = (message: MessageEvent<string>): void => {
    if (message.lastEventId) last = message.lastEventId;
    const items = JSON.parse(message.data) as { id?: string; event?: unknown }[];
    const events = items.map((item) =>
      item.event !== undefined && typeof item.id === 'string'
        ? (item as { id: string; event: { type: string } })
        : { id: message.lastEventId, event: item as unknown as { type: string } },
    );
    deliver({ kind: 'events', events, lastId: message.lastEventId });
  };
  const onOne = (message: MessageEvent<string>): void => {
    if (message.lastEventId) last = message.lastEventId;
    deliver({
      kind: 'events',
      events: [{ id: message.lastEventId, event: JSON.parse(message.data) }],
      lastId: message.lastEventId,
    });
  };
  source.addEventListener('batch', onBatch as EventListener);
  source.addEventListener('message', onOne as EventListener);
  for (const type of types) source.addEventListener(type, onOne as EventListener);
  source.addEventListener('end', () => {
    closed = true;
    source?.close();
    post({ kind: 'state', state: 'ended' });
  });
  source.addEventListener('error', () => {
    if (closed) return;
    post({ kind: 'state', state: 'reconnecting' });
    // The browser gave up (an error answer): reopen from the last id seen.
    if (source?.readyState === EventSource.CLOSED) retry = setTimeout(() => open(url, types), 2000);
  });
}

self.onmessage = (message: MessageEvent<ToStreamWorker>) => {
  const data = message.data;
  if (data.kind === 'open') {
    keep = data.keep;
    open(data.url, data.types);
  } else {
    closed = true;
    if (retry !== undefined) clearTimeout(retry);
    source?.close();
  }
};
