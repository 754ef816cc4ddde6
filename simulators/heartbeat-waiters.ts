import type { VmInstance } from './model.ts';

interface Waiter {
  startedAt: number;
  done: boolean;
  resolve: (result: { ok: boolean; waitedMs: number }) => void;
}

/**
 * `waitForHeartbeat` in simulated time: a waiter resolves when the guest heartbeat appears (a
 * boot event) or when its timeout event runs, whichever comes first, under any clock mode.
 */
export class HeartbeatWaiters {
  private readonly waiters = new Map<VmInstance, Set<Waiter>>();

  constructor(
    private readonly schedule: (at: number, run: (at: number) => void) => void,
    private readonly now: () => number,
  ) {}

  wait(instance: VmInstance, timeoutMs: number): Promise<{ ok: boolean; waitedMs: number }> {
    if (instance.heartbeatOk) return Promise.resolve({ ok: true, waitedMs: 0 });
    return new Promise((resolve) => {
      const waiter: Waiter = { startedAt: this.now(), done: false, resolve };
      let set = this.waiters.get(instance);
      if (!set) {
        set = new Set();
        this.waiters.set(instance, set);
      }
      set.add(waiter);
      this.schedule(this.now() + timeoutMs, (t) => {
        if (waiter.done) return;
        waiter.done = true;
        this.waiters.get(instance)?.delete(waiter);
        resolve({ ok: false, waitedMs: t - waiter.startedAt });
      });
    });
  }

  notify(instance: VmInstance, at: number): void {
    const set = this.waiters.get(instance);
    if (!set) return;
    this.waiters.delete(instance);
    for (const waiter of set) {
      if (waiter.done) continue;
      waiter.done = true;
      waiter.resolve({ ok: true, waitedMs: at - waiter.startedAt });
    }
  }
}
