/**
 * The site monitor of the control planes (issue 13, first part): one leader at a time (a Redis
 * lease among the control planes) runs the pure site machine (engine/machines site-monitor.ts) of
 * every site on its own monotonic clock. Renewals are counted, not timed by Redis: each agent
 * heartbeat adds one to its session's `renewals` (agents/sessions.ts), and the leader, reading the
 * counters every tick, sees a renewal when the counter (or the session: a new incarnation) moved,
 * at its own `now`. A leader that has just taken over starts every site at `watching`, so nothing
 * is declared expired before it has watched a full lease itself.
 *
 * Each site's state is written for `GET /sites` (the `lease` field) and a site turning suspect,
 * lost or returned is notified (notify/). A site whose lease ran out is put to the `witness`
 * (an option: without one it stays `expired` and is never declared lost), and every change goes
 * to `onChange`, where the automation (engine/control/auto) acts on `lost` and `returned` and
 * reports the failover it started back through `report`.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../../common/index.ts';
import {
  initialSiteMonitor,
  leaseEndsAt,
  type SiteMonitorConfig,
  type SiteMonitorEvent,
  type SiteMonitorSnapshot,
  siteMonitorConfigIssues,
  stepSiteMonitor,
  type WitnessVerdict,
} from '../../machines/index.ts';
import { agentKeys, agentSitesKey } from '../agents/keys.ts';
import type { NotificationEvent } from '../notify/index.ts';
import { siteNotification } from '../notify/index.ts';
import { monitorKeys, type SiteLeaseView } from './keys.ts';

export interface SiteMonitorOptions {
  redis: Redis;
  prefix: string;
  log: Logger;
  config: SiteMonitorConfig;
  /** @defaultValue 250 */
  tickMs?: number;
  /** How long the leader's lease lasts without renewal. @defaultValue 3 × tickMs, at least 1 s */
  leaderLeaseMs?: number;
  /** Raise a notification (Notifications.notify). */
  notify?: (event: NotificationEvent) => Promise<unknown>;
  /** The monotonic clock (ms). @defaultValue performance.now */
  now?: () => number;
  /**
   * Ask the witness about a site whose lease ran out (its WITNESS is stepped in when it answers).
   * Absent: nobody is asked and no site is ever declared lost. The site-side witness (the peer's
   * probe, the arbiter) plugs in here; tests give their own.
   */
  witness?: (site: string) => Promise<WitnessVerdict>;
  /**
   * A site changed state on the leader (after its notification): the automation (engine/control/
   * auto) acts on `lost` and `returned`. `now`: the monitor's clock when it changed.
   */
  onChange?: (site: string, from: string, snapshot: SiteMonitorSnapshot, now: number) => void;
}

export interface SiteMonitor {
  readonly id: string;
  readonly leading: boolean;
  /** The sites' snapshots while this one leads. */
  snapshots(): ReadonlyMap<string, SiteMonitorSnapshot>;
  /**
   * Step an event from outside into a site's machine on the leader (FAILOVER_STARTED, _ENDED,
   * ACKNOWLEDGED), in turn with the ticks; `now` is the monitor's clock. Ignored when not leading.
   */
  report(site: string, event: (now: number) => SiteMonitorEvent): void;
  /** The monitor's clock (ms). */
  now(): number;
  close(): Promise<void>;
}

/** Take or keep the lease: 1 when `ARGV[1]` holds it after the call. */
const LEAD = `
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;
const RESIGN = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

const NOTIFIED = { suspect: 'suspect', lost: 'lost', returned: 'returned' } as const;

export function startSiteMonitor(options: SiteMonitorOptions): SiteMonitor {
  const issues = siteMonitorConfigIssues(options.config);
  if (issues.length > 0) throw new RangeError(issues.map((i) => i.message).join('; '));
  const { redis, prefix, log, config } = options;
  const id = randomUUID();
  const tickMs = options.tickMs ?? 250;
  const leaderLeaseMs = options.leaderLeaseMs ?? Math.max(1000, 3 * tickMs);
  const now = options.now ?? (() => performance.now());
  const keys = monitorKeys(prefix);
  let leading = false;
  let closed = false;
  const sites = new Map<string, SiteMonitorSnapshot>();
  /** The (session, renewals) last seen per site. */
  const seen = new Map<string, string>();

  const tick = async (): Promise<void> => {
    const lead = (await redis.eval(LEAD, 1, keys.leader, id, String(leaderLeaseMs))) === 1;
    if (lead !== leading) {
      leading = lead;
      sites.clear();
      seen.clear();
      log.info({ monitor: id, leading }, lead ? 'site monitor: leading' : 'site monitor: not leading');
    }
    if (!leading) return;
    const names = (await redis.smembers(agentSitesKey(prefix))).sort();
    const pipeline = redis.pipeline();
    for (const site of names) pipeline.hmget(agentKeys(prefix, site).session, 'session', 'renewals');
    const replies = (await pipeline.exec()) ?? [];
    const at = now();
    const view: Record<string, string> = {};
    for (const [i, site] of names.entries()) {
      const [error, value] = replies[i] ?? [];
      if (error) throw error;
      const [session, renewals] = (value ?? []) as (string | null)[];
      let snapshot = sites.get(site) ?? initialSiteMonitor(site, config, at);
      const before = snapshot.state;
      const mark = `${session ?? ''}|${renewals ?? ''}`;
      if (session && renewals && seen.has(site) && seen.get(site) !== mark) {
        snapshot = stepSiteMonitor(snapshot, {
          type: 'RENEWAL',
          now: at,
          incarnation: session,
          counter: Number(renewals),
          via: 'direct',
        }).snapshot;
      }
      seen.set(site, mark);
      const ticked = stepSiteMonitor(snapshot, { type: 'TICK', now: at });
      snapshot = ticked.snapshot;
      if (ticked.askWitness) askWitness(site, at);
      sites.set(site, snapshot);
      if (snapshot.state !== before) {
        log.warn({ site, from: before, to: snapshot.state }, 'site monitor: state changed');
        const verdict = NOTIFIED[snapshot.state as keyof typeof NOTIFIED];
        if (verdict !== undefined && options.notify !== undefined) {
          const last = snapshot.context.last;
          void options
            .notify(
              siteNotification({
                site,
                verdict,
                // Stable across leaders: the episode after the last renewal seen.
                transition: `${last?.incarnation ?? 'none'}:${last?.counter ?? 0}:${verdict}`,
                details: { state: snapshot.state, renewals: snapshot.context.history.length },
              }),
            )
            .catch((error: unknown) => log.warn({ err: error, site }, 'site notification not raised'));
        }
        options.onChange?.(site, before, snapshot, at);
      }
      const lease: SiteLeaseView = {
        state: snapshot.state,
        at: new Date().toISOString(),
        leaseLeftMs: Math.round(leaseEndsAt(snapshot.context) - at),
        leader: id,
      };
      view[site] = JSON.stringify(lease);
    }
    if (names.length > 0) await redis.hset(keys.view, view);
  };

  /** Steps an event into a site's machine, in turn with the ticks (no state-change callbacks). */
  const step = (site: string, event: (now: number) => SiteMonitorEvent): void => {
    running = running.then(() => {
      const snapshot = sites.get(site);
      if (!leading || snapshot === undefined) return;
      const at = now();
      const next = stepSiteMonitor(snapshot, event(at)).snapshot;
      sites.set(site, next);
      if (next.state !== snapshot.state) options.onChange?.(site, snapshot.state, next, at);
    });
  };
  const askWitness = (site: string, askedAt: number): void => {
    if (options.witness === undefined) {
      log.warn({ site }, "site's lease ran out and no witness is configured: the site is not declared lost");
      return;
    }
    void options.witness(site).then(
      (verdict) => step(site, (at) => ({ type: 'WITNESS', now: at, askedAt, ...verdict })),
      (error: unknown) => log.warn({ err: error, site }, 'witness not answered'),
    );
  };

  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running
      .then(tick)
      .catch((error: unknown) => log.warn({ err: error }, 'site monitor tick failed'));
  }, tickMs);
  timer.unref();

  return {
    id,
    get leading() {
      return leading;
    },
    snapshots: () => sites,
    report: step,
    now,
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await running;
      if (leading) await redis.eval(RESIGN, 1, keys.leader, id).catch(() => {});
      leading = false;
    },
  };
}
