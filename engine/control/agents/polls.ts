/**
 * The agents' polls waiting at this control plane, per site: woken when a unit goes on the site's
 * ready list (here or, by pub/sub, at another control plane), and, while one waits, given the
 * units this control plane hands straight away (hub.ts): no ready list, no pop, no second look.
 */

/** A waiting poll that takes units handed here directly. */
export interface Receiver {
  readonly session: string;
  readonly max: number;
}

export interface WaitingPoll {
  /** Resolves with the units (their JSON) handed to it, or [] when it stops waiting without any. */
  readonly units: Promise<string[]>;
  /** Stop taking units; those handed to it from now on are refused (`deliver` returns false). */
  cancel(): void;
}

export interface Polls {
  /** Resolves at the site's next wake (a unit listed), or when `signal` aborts. */
  nextWake(site: string, signal: AbortSignal): Promise<void>;
  wake(site: string): void;
  /** Wait for units handed directly to this poll (until `signal` aborts or it is cancelled). */
  receive(site: string, receiver: Receiver, signal: AbortSignal): WaitingPoll;
  /** The oldest poll of the site that takes units now; it is no longer waiting once picked. */
  pick(site: string): { receiver: Receiver; deliver(units: string[]): boolean } | undefined;
  /** Every poll ends now and answers at once from here on. */
  stop(): void;
  readonly stopped: boolean;
  /** Sites with a poll waiting for a wake (a test holds it to the polls that wait). */
  readonly waking: number;
}

interface Entry {
  receiver: Receiver;
  deliver(units: string[]): boolean;
}

export function createPolls(): Polls {
  const wakes = new Map<string, Set<() => void>>();
  const receivers = new Map<string, Set<Entry>>();
  let stopped = false;

  const wake = (site: string): void => {
    const set = wakes.get(site);
    if (set === undefined) return;
    wakes.delete(site);
    for (const fn of set) fn();
  };

  return {
    wake,
    get stopped() {
      return stopped;
    },
    get waking() {
      return wakes.size;
    },
    nextWake: (site, signal) =>
      new Promise<void>((resolve) => {
        if (stopped || signal.aborted) return resolve();
        const set = wakes.get(site) ?? new Set();
        const done = (): void => {
          signal.removeEventListener('abort', done);
          set.delete(done);
          // Else every site name ever polled keeps an entry.
          if (set.size === 0 && wakes.get(site) === set) wakes.delete(site);
          resolve();
        };
        set.add(done);
        wakes.set(site, set);
        signal.addEventListener('abort', done, { once: true });
      }),
    receive: (site, receiver, signal) => {
      let settle: (units: string[]) => void = () => {};
      const units = new Promise<string[]>((resolve) => {
        settle = resolve;
      });
      const set = receivers.get(site) ?? new Set<Entry>();
      receivers.set(site, set);
      let open = true;
      const close = (): void => {
        if (!open) return;
        open = false;
        set.delete(entry);
        if (set.size === 0 && receivers.get(site) === set) receivers.delete(site);
        signal.removeEventListener('abort', cancel);
        settle([]);
      };
      const entry: Entry = {
        receiver,
        deliver: (handed) => {
          if (!open || signal.aborted) return false;
          open = false;
          signal.removeEventListener('abort', cancel);
          settle(handed);
          return true;
        },
      };
      const cancel = (): void => close();
      if (stopped || signal.aborted) close();
      else {
        set.add(entry);
        signal.addEventListener('abort', cancel, { once: true });
      }
      return { units, cancel };
    },
    pick: (site) => {
      const set = receivers.get(site);
      if (set === undefined) return undefined;
      for (const entry of set) {
        set.delete(entry);
        if (set.size === 0) receivers.delete(site);
        return entry;
      }
      return undefined;
    },
    stop: () => {
      stopped = true;
      for (const set of wakes.values()) for (const fn of set) fn();
      wakes.clear();
      for (const set of receivers.values()) for (const entry of set) entry.deliver([]);
      receivers.clear();
    },
  };
}
