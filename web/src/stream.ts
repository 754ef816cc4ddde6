/**
 * The dashboard-wide stream (`/api/v1/stream`, batched: each item the new state of one site,
 * execution or VM's health): every page that listens is handed the items of the last second at
 * once and decides what it reloads or patches. A control plane without the stream (or one that
 * cannot keep it open) is read every 5 s instead: listeners are then told `poll`.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { follow } from './live.ts';

export type StreamItem =
  | { kind: 'site'; site: string; [key: string]: unknown }
  | { kind: 'execution'; id: string; status: string; [key: string]: unknown }
  | { kind: 'vm'; site: string; vm: string; health: string | null }
  | { kind: 'poll' };

type Listener = (items: StreamItem[]) => void;
const listeners = new Set<Listener>();
const stateListeners = new Set<(live: boolean) => void>();
let started = false;
let live = false;

function start(): void {
  if (started) return;
  started = true;
  let pending: StreamItem[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  follow('/api/v1/stream', {
    onEvents: (events) => {
      for (const { event } of events) pending.push(event as unknown as StreamItem);
      if (timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        const items = pending;
        pending = [];
        for (const listener of listeners) listener(items);
      }, 1000);
    },
    onState: (state) => {
      live = state === 'open';
      for (const listener of stateListeners) listener(live);
    },
  });
  setInterval(() => {
    if (live) return;
    for (const listener of listeners) listener([{ kind: 'poll' }]);
  }, 5000);
}

/**
 * `onItems` with each second's items of the stream (or `[{ kind: 'poll' }]` every 5 s without
 * one); `kinds` filters them: the listener is called only when one of those kinds (or a poll) came.
 */
export function useStream(
  kinds: readonly StreamItem['kind'][],
  onItems: (items: StreamItem[]) => void,
): boolean {
  const [isLive, setLive] = useState(live);
  const callback = useRef(onItems);
  callback.current = onItems;
  const wanted = kinds.join(',');
  useEffect(() => {
    start();
    const set = new Set(wanted.split(','));
    const listener: Listener = (items) => {
      const mine = items.filter((item) => item.kind === 'poll' || set.has(item.kind));
      if (mine.length > 0) callback.current(mine);
    };
    listeners.add(listener);
    stateListeners.add(setLive);
    return () => {
      listeners.delete(listener);
      stateListeners.delete(setLive);
    };
  }, [wanted]);
  return isLive;
}

/** Reload when one of `kinds` changed. */
export function useChanges(kinds: readonly StreamItem['kind'][], reload: () => void): boolean {
  return useStream(kinds, reload);
}
