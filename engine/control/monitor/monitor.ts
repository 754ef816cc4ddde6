/**
 * The site monitor of the control planes (issue 13, first part): one leader at a time (a Redis
 * lease among the control planes) runs the pure site machine (engine/machines site-monitor.ts) of
 * every site on its own monotonic clock. Renewals are counted, not timed by Redis: each agent
 * heartbeat adds one to its session's `renewals` (agents/sessions.ts), and the leader, reading the
 * counters every tick, sees a renewal when the counter (or the session: a new incarnation) moved,
 * at its own `now`. A leader that has just taken over starts every site at `watching`, so nothing
 * is declared expired before it has watched a full lease itself.
 *
 * Renewals come directly (the heartbeat's `renewals`) or relayed by the peer site's agent
 * (`relayed`, counted by monitor/routes.ts after checking the signer's signature, replay window and
 * age); the machine's counter is their sum within the session, `via` says which moved.
 *
 * The witness: when a site's lease runs out the machine says `askWitness`; the leader writes an
 * ask (`asks(peer)`, id `<leader>:<askedAt>`) for the agent of a site it sees online, which reads it
 * in its next contact answer, probes the site's agent (`GET /alive`) and host endpoints (TCP
 * connect), and posts the verdict; the leader feeds it to the machine as WITNESS with that
 * `askedAt`. No peer online: the arbiter (when configured) is asked when it last heard of the site;
 * heard within the lease is `reachable`. No witness at all: the site stays `expired`, never lost.
 * Each site's state is written for `GET /sites` (the `lease` field) and a site turning suspect,
 * lost or returned is notified (notify/).
 * A site whose lease ran out may instead be put to an injected `witness` (tests), and every change
 * goes to `onChange`, where the automation (engine/control/auto) acts on `lost` and `returned` and
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
import { askArbiter } from './arbiter-client.ts';
import { monitorKeys, type SiteLeaseView, type WitnessVerdictRecord } from './keys.ts';
import { withArbiter } from './witness.ts';

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
  /** The arbiter (`drctl arbiter`): asked when no peer site can witness. @defaultValue none */
  arbiterUrl?: string;
  /**
   * Ask the witness about a site whose lease ran out (its WITNESS is stepped in when it answers).
   * Absent (in production): the peer site's agent is asked to probe, else the arbiter (`ask`
   * below). Given (tests), it replaces both.
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
  /** The ask whose verdict was fed to each site's machine (each is fed once). */
  const fed = new Map<string, string>();
  /** The (session, renewals) last seen per site. */
  const seen = new Map<string, string>();

  const tick = async (): Promise<void> => {
    const lead = (await redis.eval(LEAD, 1, keys.leader, id, String(leaderLeaseMs))) === 1;
    if (lead !== leading) {
      leading = lead;
      sites.clear();
      seen.clear();
      fed.clear();
      log.info({ monitor: id, leading }, lead ? 'site monitor: leading' : 'site monitor: not leading');
    }
    if (!leading) return;
    const names = (await redis.smembers(agentSitesKey(prefix))).sort();
    const pipeline = redis.pipeline();
    for (const site of names)
      pipeline.hmget(
        agentKeys(prefix, site).session,
        'session',
        'renewals',
        'relayed',
        'peerUrl',
        'hostEndpoints',
      );
    pipeline.hgetall(keys.verdicts);
    const replies = (await pipeline.exec()) ?? [];
    const verdicts = (replies[names.length]?.[1] ?? {}) as Record<string, string>;
    /** Asks to write after the loop, when every site's state is known (a peer must be online). */
    const asking: string[] = [];
    /** Sites heard from again: their asks and verdicts go. */
    const settled: string[] = [];
    const contacts = new Map<string, { agentUrl?: string; hostEndpoints: string[] }>();
    const at = now();
    const view: Record<string, string> = {};
    for (const [i, site] of names.entries()) {
      const [error, value] = replies[i] ?? [];
      if (error) throw error;
      const [session, renewals, relayed, peerUrl, hostEndpoints] = (value ?? []) as (string | null)[];
      contacts.set(site, {
        ...(peerUrl ? { agentUrl: peerUrl } : {}),
        hostEndpoints: parseEndpoints(hostEndpoints),
      });
      let snapshot = sites.get(site) ?? initialSiteMonitor(site, config, at);
      const before = snapshot.state;
      const direct = Number(renewals ?? 0);
      const carried = Number(relayed ?? 0);
      const mark = `${session ?? ''}|${direct}|${carried}`;
      const previous = seen.get(site);
      if (session && direct + carried > 0 && previous !== undefined && previous !== mark) {
        const [lastSession, lastDirect, lastCarried] = previous.split('|');
        // Relayed when only the relayed count moved (the direct link is cut, the peer carries it).
        const onlyRelayed =
          lastSession === session && Number(lastDirect) === direct && Number(lastCarried) !== carried;
        snapshot = stepSiteMonitor(snapshot, {
          type: 'RENEWAL',
          now: at,
          incarnation: session,
          counter: direct + carried,
          via: onlyRelayed ? 'relayed' : 'direct',
        }).snapshot;
      }
      seen.set(site, mark);
      const ticked = stepSiteMonitor(snapshot, { type: 'TICK', now: at });
      snapshot = ticked.snapshot;
      // A verdict for the ask outstanding (an older one is dropped by the machine's `askedAt`).
      const answer = verdicts[site];
      if (answer !== undefined && snapshot.context.witnessAskedAt !== undefined) {
        let record = JSON.parse(answer) as WitnessVerdictRecord;
        const askId = askIdOf(id, snapshot.context.witnessAskedAt);
        const fresh = record.askId === askId && fed.get(site) !== askId;
        if (fresh && record.verdict === 'unreachable' && record.by === 'peer') {
          // The site may still be renewing to the arbiter: loss only when it agrees.
          const arbiter =
            options.arbiterUrl === undefined
              ? undefined
              : ((await askArbiter(options.arbiterUrl, site, 1000)) ?? 'silent');
          record = withArbiter(record, arbiter, config.leaseMs, askId);
        }
        if (fresh) {
          fed.set(site, askId);
          snapshot = stepSiteMonitor(snapshot, {
            type: 'WITNESS',
            now: at,
            askedAt: snapshot.context.witnessAskedAt,
            verdict: record.verdict,
            by: record.by,
            detail: `${record.from}: ${record.detail}`,
          }).snapshot;
        }
      }
      if (ticked.askWitness) {
        if (options.witness === undefined) asking.push(site);
        else askWitness(site, at);
      }
      sites.set(site, snapshot);
      if (snapshot.state !== before) {
        log.warn({ site, from: before, to: snapshot.state }, 'site monitor: state changed');
        if (snapshot.state === 'online') settled.push(site);
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
    for (const site of settled) {
      const clear = redis.multi().hdel(keys.verdicts, site);
      for (const peer of names) clear.hdel(keys.asks(peer), site);
      await clear.exec();
    }
    for (const site of asking) await ask(site, contacts);
  };

  /** Ask a witness about `site`: the agent of a site this leader sees online, else the arbiter. */
  const ask = async (
    site: string,
    contacts: ReadonlyMap<string, { agentUrl?: string; hostEndpoints: string[] }>,
  ): Promise<void> => {
    const snapshot = sites.get(site);
    const askedAt = snapshot?.context.witnessAskedAt;
    if (snapshot === undefined || askedAt === undefined) return;
    const askId = askIdOf(id, askedAt);
    const peer = [...sites.values()].find((other) => other.context.site !== site && other.state === 'online');
    const contact = contacts.get(site) ?? { hostEndpoints: [] };
    if (peer !== undefined) {
      const body = { askId, site, ...contact };
      await redis.hset(keys.asks(peer.context.site), site, JSON.stringify(body));
      log.warn(
        { site, witness: peer.context.site, askId },
        "site's lease ran out: the peer site is asked to probe it",
      );
      return;
    }
    if (options.arbiterUrl === undefined) {
      log.warn(
        { site },
        "site's lease ran out and no peer site is online to witness it (and no arbiter): not declared lost",
      );
      return;
    }
    const heard = await askArbiter(options.arbiterUrl, site, 1000);
    const record = withArbiter(undefined, heard ?? 'silent', config.leaseMs, askId);
    await redis.hset(keys.verdicts, site, JSON.stringify(record));
  };

  // The lease the agents' contact answer tells them (their failsafe fences inside it).
  void redis
    .set(keys.config, JSON.stringify({ leaseMs: config.leaseMs }))
    .catch((error: unknown) => log.warn({ err: error }, 'site monitor config not written'));

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

function askIdOf(leader: string, askedAt: number): string {
  return `${leader}:${askedAt}`;
}

function parseEndpoints(raw: string | null | undefined): string[] {
  if (!raw) return [];
  try {
    const value = JSON.parse(raw) as unknown;
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}
