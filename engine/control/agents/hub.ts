/**
 * The control plane's side of its agents, one per control plane: sessions, the units handed out,
 * the polls waiting for a unit and the relays waiting for a report, and one relay (a site worker
 * whose units run at the site's agent, relay.ts) per site an agent ever said hello for. State is in
 * Redis (keys.ts), so several control planes behind one address serve the same agents: a poll is
 * woken by a unit handed by any of them (pub/sub `wake`), a relay by a report any of them accepted
 * (pub/sub `results`), and a check every `checkMs` catches what a lost message missed and hands
 * again the units of a session that is gone, replaced, or never got them (its heartbeats do not
 * list them).
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../common/index.ts';
import type { HandedUnit, UnitReport } from '../../contract/index.ts';
import { type SiteWorkers, startSiteWorkers } from '../../executor/index.ts';
import type { HostDriver } from '../../hosts/index.ts';
import { createHanding, type Handing } from './handing.ts';
import { agentKeys, agentSitesKey, resultsChannel, wakeChannel } from './keys.ts';
import { relayUnitRunner } from './relay.ts';
import { createSessions, type SessionOptions, type Sessions } from './sessions.ts';

export interface AgentHubOptions extends SessionOptions {
  /**
   * How often the units this control plane waits for are checked (report missed, session gone).
   * @defaultValue 500
   */
  checkMs?: number;
}

/** The relays' BullMQ workers (one per site). */
export interface RelayOptions {
  redisUrl: string;
  /** The relays never touch a host: a driver that refuses every call. */
  api: HostDriver;
  /**
   * Units waited for at once per site (the agent's own --concurrency bounds what runs).
   * @defaultValue 2000
   */
  concurrency?: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /**
   * How often the vault is looked at for sites that have no relay here yet.
   * @defaultValue 1000
   */
  scanMs?: number;
  log: Logger;
}

interface Waiter {
  site: string;
  unit: HandedUnit;
  resolve(report: UnitReport): void;
}

export interface AgentHub {
  readonly sessions: Sessions;
  readonly handing: Handing;
  hand(site: string, unit: HandedUnit): Promise<UnitReport | undefined>;
  waitFor(site: string, unit: HandedUnit, signal: AbortSignal): Promise<UnitReport>;
  drop(site: string, id: string): Promise<void>;
  /** Resolves at the site's next wake (a unit handed), or when `signal` aborts. */
  nextWake(site: string, signal: AbortSignal): Promise<void>;
  /** Polls end now and answer at once from here on (the control plane is closing). */
  stopPolls(): void;
  readonly pollsStopped: boolean;
  /** Sites with a poll waiting now: a site's entry goes with its last waiting poll. */
  readonly wakingSites: number;
  /** A report this control plane just recorded: its own waiter need not wait for the message. */
  accepted(site: string, report: UnitReport): void;
  /** Start a relay for every site the vault knows, and for each new one. */
  startRelays(options: RelayOptions): Promise<void>;
  /** A site said hello here: its relay starts now (when relays run). */
  siteSeen(site: string): void;
  close(timeoutMs?: number): Promise<void>;
}

export function createAgentHub(
  redis: Redis,
  prefix: string,
  log: Logger,
  options: AgentHubOptions = {},
): AgentHub {
  const sessions = createSessions(redis, prefix, options);
  const handing = createHanding(redis, prefix);
  const waiters = new Map<string, Waiter>();
  const wakes = new Map<string, Set<() => void>>();
  const relays = new Map<string, SiteWorkers>();
  let relayOptions: RelayOptions | undefined;
  let subscriber: Redis | undefined;
  let closed = false;
  let pollsStopped = false;
  const timers: NodeJS.Timeout[] = [];

  const wake = (site: string): void => {
    const set = wakes.get(site);
    if (set === undefined) return;
    wakes.delete(site);
    for (const fn of set) fn();
  };
  const settle = (id: string, report: UnitReport): void => {
    const waiter = waiters.get(id);
    if (waiter === undefined) return;
    waiters.delete(id);
    waiter.resolve(report);
  };
  const subscribe = (): void => {
    if (subscriber !== undefined || closed) return;
    subscriber = redis.duplicate({
      enableAutoPipelining: false,
      connectionName: 'drorch-control-agents-sub',
    });
    subscriber.on('error', (error) => log.warn({ err: error.message }, 'agents subscriber error'));
    void subscriber.subscribe(wakeChannel(prefix), resultsChannel(prefix)).catch(() => {});
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === wakeChannel(prefix)) return wake(message);
      const [site = '', id = ''] = message.split(' ');
      if (!waiters.has(id)) return;
      void handing.read(site, [id]).then(
        ([entry]) => entry?.report && settle(id, entry.report),
        () => {},
      );
    });
    const check = setInterval(
      () => void checkWaiters().catch((e) => log.warn({ err: e }, 'unit check failed')),
      options.checkMs ?? 500,
    );
    check.unref();
    timers.push(check);
  };

  /** Reports missed, units of a session gone or never received: handed again. */
  const checkWaiters = async (): Promise<void> => {
    const bySite = new Map<string, Waiter[]>();
    for (const waiter of waiters.values())
      bySite.set(waiter.site, [...(bySite.get(waiter.site) ?? []), waiter]);
    for (const [site, list] of bySite) {
      const [entries, current, runningRaw] = await Promise.all([
        handing.read(
          site,
          list.map((w) => w.unit.id),
        ),
        sessions.current(site),
        redis.get(agentKeys(prefix, site).running),
      ]);
      const live = sessions.isLive(current);
      const running =
        runningRaw === null
          ? undefined
          : (JSON.parse(runningRaw) as { at: number; session: string; ids: string[] });
      const held = new Set(running?.ids ?? []);
      for (const [i, waiter] of list.entries()) {
        const entry = entries[i];
        const id = waiter.unit.id;
        if (entry === undefined) {
          // Dropped by another run of the same job: hand it again (the agent answers from its cache).
          await handing.hand(site, waiter.unit);
          continue;
        }
        if (entry.report !== undefined) {
          settle(id, entry.report);
          continue;
        }
        if (entry.session === '') continue;
        const gone = !live || current?.session !== entry.session;
        // A heartbeat well after the unit was handed that does not list it: the poll's answer was lost.
        const lost =
          !gone &&
          running !== undefined &&
          running.session === entry.session &&
          running.at > entry.handedAt + 3 * sessions.heartbeatMs &&
          !held.has(id);
        if (gone || lost) {
          log.warn(
            { site, unit: id, why: gone ? 'session gone' : 'not held by the agent' },
            'handing a unit again',
          );
          await handing.rehand(site, id);
        }
      }
    }
  };

  const startRelay = (site: string): void => {
    const o = relayOptions;
    if (o === undefined || relays.has(site) || closed) return;
    const relay = startSiteWorkers({
      redisUrl: o.redisUrl,
      prefix,
      site,
      api: o.api,
      runUnit: relayUnitRunner(hub, site),
      announceCatalog: false,
      fenceSweepMs: 0,
      concurrency: o.concurrency ?? 2000,
      ...(o.lockDurationMs === undefined ? {} : { lockDurationMs: o.lockDurationMs }),
      ...(o.stalledIntervalMs === undefined ? {} : { stalledIntervalMs: o.stalledIntervalMs }),
      logger: o.log.child({ part: 'relay' }),
    });
    relays.set(site, relay);
    o.log.info({ site, queue: relay.queue }, 'relay started: the units of this site go to its agent');
  };

  const hub: AgentHub = {
    sessions,
    handing,
    hand: async (site, unit) => {
      subscribe();
      const report = await handing.hand(site, unit);
      wake(site);
      return report;
    },
    waitFor: (site, unit, signal) =>
      new Promise<UnitReport>((resolve, reject) => {
        subscribe();
        const onAbort = (): void => {
          waiters.delete(unit.id);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiters.set(unit.id, {
          site,
          unit,
          resolve: (report) => {
            signal.removeEventListener('abort', onAbort);
            resolve(report);
          },
        });
      }),
    drop: (site, id) => handing.drop(site, id),
    stopPolls: () => {
      pollsStopped = true;
      for (const set of wakes.values()) for (const fn of set) fn();
      wakes.clear();
    },
    get pollsStopped() {
      return pollsStopped;
    },
    get wakingSites() {
      return wakes.size;
    },
    nextWake: (site, signal) =>
      new Promise<void>((resolve) => {
        if (pollsStopped) return resolve();
        subscribe();
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
    accepted: (_site, report) => settle(report.unit, report),
    startRelays: async (o) => {
      relayOptions = o;
      subscribe();
      const scan = async (): Promise<void> => {
        for (const site of await redis.smembers(agentSitesKey(prefix))) startRelay(site);
      };
      await scan();
      const timer = setInterval(() => void scan().catch(() => {}), o.scanMs ?? 1000);
      timer.unref();
      timers.push(timer);
    },
    siteSeen: (site) => startRelay(site),
    close: async (timeoutMs = 10_000) => {
      closed = true;
      hub.stopPolls();
      for (const timer of timers) clearInterval(timer);
      await Promise.all([...relays.values()].map((relay) => relay.close(timeoutMs)));
      subscriber?.disconnect();
    },
  };
  return hub;
}
