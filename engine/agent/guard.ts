/**
 * The hosts' guards, the agent's side (issue 13; the host side is the driver's `armGuard`…, a
 * watchdog on each host, engine/hosts). While its site has an armed automatic failover (the control
 * plane's contact answer lists the armed VMs), the agent arms each host's guard with the armed VMs
 * that host holds and a timeout on the host's clock, renews it every beat while it holds the site
 * lease, and disarms it when nothing is armed. If the agent dies, hangs or is cut off from every
 * path, nobody renews: the host turns the armed primaries off by itself before the monitor may
 * start their recovery elsewhere.
 *
 * The lease rule: a renewal at `t` pushes the host's deadline to `t + timeout`; it is made only
 * while the freshest acknowledged renewal of the site lease (any path, sent at `s`, monotonic) is
 * young enough that `t + timeout <= s + lease - margin`. A paused agent (SIGSTOP) that wakes past
 * its lease therefore renews nothing on its old lease: its guards have fired meanwhile, and it arms
 * them again only after a fresh renewal was acknowledged (the host refuses a renewal of a fired
 * guard anyway).
 *
 * The timeout is half the lease minus the margin, converted to the host's clock by the rate the
 * agent measures between its monotonic clock and the hosts' `now` (a scaled simulator runs faster;
 * a real host's rate is 1). Nothing is armed before the rate is known. What the hosts answered is
 * reported every contact (`guards`: armed, VMs, renewal, deadline, last error) so the control plane
 * refuses an automatic failover of a site whose guard was not known to work.
 */
import type { GuardHealth } from '../contract/index.ts';
import type { GuardView, HostDriver } from '../hosts/index.ts';

export interface HostGuardsOptions {
  site: string;
  api: HostDriver;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** The agent's beat (a renewal each). */
  heartbeatMs: number;
  /** Monotonic ms. */
  now: () => number;
}

export interface HostGuards {
  /** The control plane's answer: the site's armed VMs and the lease it counts. */
  plan(armedVms: readonly string[], leaseMs: number): void;
  /** One beat: arm, renew or disarm every host's guard. `freshest`: the newest acknowledged renewal's send time. */
  beat(freshest: number | undefined): Promise<void>;
  health(): GuardHealth[];
}

interface HostState {
  host: string;
  vms: string[];
  armed: boolean;
  /** Monotonic ms of the last arm/renewal the host accepted. */
  renewedAtMono?: number;
  renewedAt?: string;
  deadline?: string;
  lastError?: string;
  timeoutMs?: number;
}

/** Margin kept below the lease: two beats, at least a quarter of a second. */
const marginOf = (heartbeatMs: number): number => Math.max(250, 2 * heartbeatMs);
/** Where VMs sit is re-read every this many beats (or when the armed list changes). */
const PLACEMENT_EVERY = 20;

export function createHostGuards(options: HostGuardsOptions): HostGuards {
  const { site, api, log, now } = options;
  const hosts = new Map<string, HostState>();
  let armedVms: string[] = [];
  let leaseMs: number | undefined;
  let placement: Map<string, string[]> | undefined;
  let placementAge = 0;
  let placementKey = '';
  /** First and latest (monotonic, host) samples: the hosts' clock rate. */
  let first: { mono: number; host: number } | undefined;
  let rate: number | undefined;
  let busy = false;

  const sample = (view: { now: string } | string, mono: number): void => {
    const host = Date.parse(typeof view === 'string' ? view : view.now);
    if (Number.isNaN(host)) return;
    if (first === undefined) first = { mono, host };
    else if (mono - first.mono >= 200) rate = Math.max(0.01, (host - first.host) / (mono - first.mono));
  };

  const timeoutMs = (): number | undefined =>
    leaseMs === undefined ? undefined : Math.floor((leaseMs - marginOf(options.heartbeatMs)) / 2);

  const place = async (): Promise<Map<string, string[]>> => {
    const key = armedVms.join('\n');
    if (placement !== undefined && placementKey === key && placementAge++ < PLACEMENT_EVERY) return placement;
    const wanted = new Set(armedVms);
    const byHost = new Map<string, string[]>();
    for (const host of await api.listHosts(site)) byHost.set(host.name, []);
    if (wanted.size > 0)
      for (const vm of await api.listVMs(site))
        if (!vm.isTest && wanted.has(vm.name)) byHost.get(vm.host)?.push(vm.name);
    for (const vms of byHost.values()) vms.sort();
    placement = byHost;
    placementKey = key;
    placementAge = 0;
    return byHost;
  };

  const accepted = (state: HostState, view: GuardView, at: number): void => {
    state.armed = view.armed;
    state.vms = view.vms;
    state.renewedAtMono = at;
    state.renewedAt = new Date().toISOString();
    if (view.deadline === undefined) delete state.deadline;
    else state.deadline = view.deadline;
    delete state.lastError;
  };
  const failed = (state: HostState, error: unknown): void => {
    const e = error as { code?: string; message?: string };
    state.lastError = `${e.code ? `${e.code}: ` : ''}${e.message ?? String(error)}`.slice(0, 2000);
  };

  const oneHost = async (host: string, vms: string[], freshest: number | undefined): Promise<void> => {
    let state = hosts.get(host);
    if (state === undefined) {
      state = { host, vms: [], armed: false };
      hosts.set(host, state);
    }
    const at = now();
    try {
      if (vms.length === 0) {
        if (state.armed) {
          accepted(state, await api.disarmGuard({ site, host }), at);
          log.info({ host }, 'host guard disarmed');
        }
        return;
      }
      const timeout = timeoutMs();
      if (timeout === undefined || rate === undefined) return;
      if (timeout < 2 * options.heartbeatMs) {
        state.lastError = `the site lease (${leaseMs} ms) leaves the guard ${timeout} ms, less than two beats (${options.heartbeatMs} ms): lengthen the lease`;
        return;
      }
      // The lease rule: only a fresh acknowledged renewal lets the deadline move on.
      const lease = leaseMs ?? 0;
      if (freshest === undefined || at + timeout > freshest + lease - marginOf(options.heartbeatMs)) {
        if (state.armed)
          state.lastError = 'not renewed: no acknowledged renewal of the site lease is young enough';
        return;
      }
      const hostTimeout = Math.max(1, Math.round(timeout * rate));
      const same =
        state.armed &&
        state.timeoutMs !== undefined &&
        // The measured rate wanders a little: re-armed only when the timeout moved by a tenth.
        Math.abs(state.timeoutMs - hostTimeout) <= hostTimeout / 10 &&
        state.vms.length === vms.length &&
        state.vms.every((vm, i) => vm === vms[i]) &&
        state.renewedAtMono !== undefined &&
        at - state.renewedAtMono < timeout;
      if (same) {
        try {
          const view = await api.renewGuard({ site, host });
          sample(view, at);
          accepted(state, view, at);
          return;
        } catch (error) {
          // Fired (or lost by the host): armed again below, on this fresh renewal.
          failed(state, error);
          log.warn({ host, err: state.lastError }, 'host guard renewal refused; arming it again');
        }
      }
      const view = await api.armGuard({ site, host, vms, timeoutMs: hostTimeout });
      sample(view, at);
      accepted(state, view, at);
      state.timeoutMs = hostTimeout;
      log.info({ host, vms: vms.length, timeoutMs: hostTimeout }, 'host guard armed');
    } catch (error) {
      failed(state, error);
      log.warn({ host, err: state.lastError }, 'host guard call failed');
    }
  };

  return {
    plan(vms, lease) {
      armedVms = [...new Set(vms)].sort();
      leaseMs = lease;
    },
    async beat(freshest) {
      if (busy) return;
      busy = true;
      try {
        if (rate === undefined || first === undefined) sample(await api.now(), now());
        let byHost: Map<string, string[]>;
        try {
          byHost = await place();
        } catch (error) {
          for (const state of hosts.values()) if (state.armed) failed(state, error);
          return;
        }
        for (const host of hosts.keys()) if (!byHost.has(host)) byHost.set(host, []);
        await Promise.all([...byHost].map(([host, vms]) => oneHost(host, vms, freshest)));
      } finally {
        busy = false;
      }
    },
    health() {
      return [...hosts.values()]
        .filter((s) => s.armed || s.lastError !== undefined)
        .map((s) => ({
          host: s.host,
          armed: s.armed,
          vms: [...s.vms],
          ...(s.renewedAt === undefined ? {} : { renewedAt: s.renewedAt }),
          ...(s.deadline === undefined ? {} : { deadline: s.deadline }),
          ...(s.lastError === undefined ? {} : { lastError: s.lastError }),
        }));
    },
  };
}
