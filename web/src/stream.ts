/**
 * The dashboard-wide stream (`/api/v1/stream`: site state, execution status, health changes): the
 * list pages reload what it says changed, at most once a second. A control plane without it (or a
 * stream that cannot stay open) is read every 5 s instead, and the page says so.
 */
import { useEffect, useState } from 'preact/hooks';
import { follow } from './live.ts';

type Listener = (types: Set<string>) => void;
const listeners = new Set<Listener>();
let started = false;
let live = false;
const stateListeners = new Set<(live: boolean) => void>();

function start(): void {
  if (started) return;
  started = true;
  let pending = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  follow('/api/v1/stream', {
    types: ['site', 'execution', 'health', 'inventory'],
    onEvents: (events) => {
      for (const { event } of events) pending.add(event.type);
      if (timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        const types = pending;
        pending = new Set();
        for (const listener of listeners) listener(types);
      }, 1000);
    },
    onState: (state) => {
      live = state === 'open';
      for (const listener of stateListeners) listener(live);
    },
  });
  setInterval(() => {
    if (live) return;
    const all = new Set(['site', 'execution', 'health', 'inventory', 'poll']);
    for (const listener of listeners) listener(all);
  }, 5000);
}

/** Call `onChange` when the stream (or, without one, the 5 s poll) says something changed. */
export function useChanges(onChange: () => void): boolean {
  const [isLive, setLive] = useState(live);
  useEffect(() => {
    start();
    const listener: Listener = () => onChange();
    listeners.add(listener);
    stateListeners.add(setLive);
    return () => {
      listeners.delete(listener);
      stateListeners.delete(setLive);
    };
  }, [onChange]);
  return isLive;
}
