/**
 * The control plane's side of its agents, one per control plane: sessions, the units handed out,
 * the polls waiting for a unit and the relays waiting for a report, and one relay (a site worker
 * whose units run at the site's agent, relay.ts) per site an agent ever said hello for. State is in
 * Redis (keys.ts), so several control planes behind one address serve the same agents: a poll is
 * woken by a unit handed by any of them (pub/sub `wake`), a relay by a report any of them accepted
 * (pub/sub `results`), and a check every `checkMs` catches what a lost message missed and hands
 * again the units of a session that is gone, replaced, or never got them (its heartbeats do not
 * list them). A unit handed while a poll of its site waits here goes straight to that poll, and
 * a report for a unit whose relay waits here is checked against the unit in memory: one Redis
 * round trip each way (handing.ts).
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../common/index.ts';
import type { HandedUnit, UnitReport } from '../../contract/index.ts';
import {
  createStreamWriter,
  type SiteWorkers,
  type StreamWriter,
  startSiteWorkers,
} from '../../executor/index.ts';
import type { HostDriver } from '../../hosts/index.ts';
import { createHanding, type Handing } from './handing.ts';
import { agentKeys, agentSitesKey, resultsChannel, wakeChannel } from './keys.ts';
import { createPolls, type Polls } from './polls.ts';
import { relayUnitRunner } from './relay.ts';
import { createSessions, type SessionOptions, type Sessions } from './sessions.ts';
import { tickBatch } from './tick-batch.ts';

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

/** The longest interval between two checks of one unit, in `checkMs` (hub.ts checkWaiters). */
const CHECK_BACKOFF = 8;

interface Waiter {
  site: string;
  unit: HandedUnit;
  /** When its relay began to wait, and when the periodic check looks at it next (see checkWaiters). */
  since: number;
  nextCheck: number;
  resolve(report: UnitReport): void;
}

export interface AgentHub {
  readonly sessions: Sessions;
  readonly handing: Handing;
  readonly polls: Polls;
  /**
   * Appends of running units' events (progress), a tick's worth per execution in one script, as
   * the workers append theirs (engine/executor events.ts).
   */
  readonly streams: StreamWriter;
  /** Hand a unit (with those of the same tick, in one call); resolves to its report if one is in. */
  hand(site: string, unit: HandedUnit): Promise<UnitReport | undefined>;
  waitFor(site: string, unit: HandedUnit, signal: AbortSignal): Promise<UnitReport>;
  drop(site: string, id: string): Promise<void>;
  /** The unit as handed, when a relay of this control plane waits for its report. */
  handedHere(site: string, id: string): HandedUnit | undefined;
  /** These reports are being recorded here: the results message about them need not be read. */
  recording(ids: readonly string[], on: boolean): void;
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
  const polls = createPolls();
  const waiters = new Map<string, Waiter>();
  const recordingHere = new Set<string>();
  const relays = new Map<string, SiteWorkers>();
  let relayOptions: RelayOptions | undefined;
  let subscriber: Redis | undefined;
  let closed = false;
  const timers: NodeJS.Timeout[] = [];

  const settle = (id: string, report: UnitReport): void => {
    const waiter = waiters.get(id);
    if (waiter === undefined) return;
    waiters.delete(id);
    waiter.resolve(report);
  };
  const readReports = async (site: string, ids: readonly string[]): Promise<void> => {
    const entries = await handing.read(site, ids);
    ids.forEach((id, i) => {
      const report = entries[i]?.report;
      if (report !== undefined) settle(id, report);
    });
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
      if (channel === wakeChannel(prefix)) return polls.wake(message);
      // "<site> <id> <id> ...": reports accepted by some control plane; read those waited for here.
      const [site = '', ...ids] = message.split(' ');
      const wanted = ids.filter((id) => waiters.has(id) && !recordingHere.has(id));
      if (wanted.length > 0) void readReports(site, wanted).catch(() => {});
    });
    const check = setInterval(
      () => void checkWaiters().catch((e) => log.warn({ err: e }, 'unit check failed')),
      checkMs,
    );
    check.unref();
    timers.push(check);
  };

  /** Units of a tick, per site, in one script; straight to a poll waiting here when there is one. */
  const handBatch = tickBatch<HandedUnit, UnitReport | undefined>(async (site, units) => {
    const picked = polls.pick(site);
    const toHand = units.map((unit) => ({ unit, json: JSON.stringify(unit) }));
    const outcomes = await handing.hand(
      site,
      toHand,
      picked === undefined ? undefined : { session: picked.receiver.session, max: picked.receiver.max },
    );
    const taken: string[] = [];
    const takenIds: string[] = [];
    let listed = false;
    outcomes.forEach((outcome, i) => {
      const handed = toHand[i];
      if (handed === undefined) return;
      if ('taken' in outcome) {
        taken.push(handed.json);
        takenIds.push(handed.unit.id);
      } else if ('listed' in outcome) listed = true;
    });
    if (picked !== undefined && !picked.deliver(taken)) {
      // The poll stopped waiting meanwhile: the units go on the ready list for its next one.
      for (const id of takenIds) await handing.rehand(site, id);
      listed ||= takenIds.length > 0;
    }
    if (listed) polls.wake(site);
    return outcomes.map((outcome) => ('report' in outcome ? outcome.report : undefined));
  });
  const dropBatch = tickBatch<string, void>(async (site, ids) => {
    await handing.drop(site, ids);
    return ids.map(() => undefined);
  });

  /**
   * Reports missed, units of a session gone or never received: handed again. What a unit's state
   * can show is rare (a lost message, a lost answer, a dead agent), and tens of thousands of units
   * may be waited for at once: each is looked at `checkMs` after its relay began to wait, then at
   * intervals that grow with its age up to CHECK_BACKOFF × `checkMs` — except that every unit of
   * a site is looked at in the check that finds the site's session not live or another one than in
   * the last check (the units of a session gone are handed again at once).
   */
  const checkMs = options.checkMs ?? 500;
  const sessionSeen = new Map<string, string>();
  const checkWaiters = async (): Promise<void> => {
    const bySite = new Map<string, Waiter[]>();
    for (const waiter of waiters.values()) {
      const list = bySite.get(waiter.site) ?? [];
      list.push(waiter);
      bySite.set(waiter.site, list);
    }
    for (const [site, all] of bySite) {
      const [current, runningRaw] = await Promise.all([
        sessions.current(site),
        redis.get(agentKeys(prefix, site).running),
      ]);
      const live = sessions.isLive(current);
      const now = Date.now();
      const changed = !live || sessionSeen.get(site) !== current?.session;
      if (live && current !== undefined) sessionSeen.set(site, current.session);
      else sessionSeen.delete(site);
      const list = changed ? all : all.filter((w) => w.nextCheck <= now);
      for (const w of list)
        w.nextCheck = now + Math.min(Math.max(now - w.since, checkMs), CHECK_BACKOFF * checkMs);
      if (list.length === 0) continue;
      const states = await handing.states(
        site,
        list.map((w) => w.unit.id),
      );
      const running =
        runningRaw === null
          ? undefined
          : (JSON.parse(runningRaw) as { at: number; session: string; ids: string[] });
      const held = new Set(running?.ids ?? []);
      const reported: string[] = [];
      for (const [i, waiter] of list.entries()) {
        const state = states[i];
        const id = waiter.unit.id;
        if (state === undefined) continue;
        if (state === 'missing') {
          // Dropped by another run of the same job: hand it again (the agent answers from its cache).
          void hub.hand(site, waiter.unit).then(
            (report) => report && settle(id, report),
            () => {},
          );
          continue;
        }
        if (state === 'reported') {
          reported.push(id);
          continue;
        }
        if (state.session === '') continue;
        const gone = !live || current?.session !== state.session;
        // A heartbeat well after the unit was handed that does not list it: the poll's answer was lost.
        const lost =
          !gone &&
          running !== undefined &&
          running.session === state.session &&
          running.at > state.handedAt + 3 * sessions.heartbeatMs &&
          !held.has(id);
        if (gone || lost) {
          log.warn(
            { site, unit: id, why: gone ? 'session gone' : 'not held by the agent' },
            'handing a unit again',
          );
          await handing.rehand(site, id);
        }
      }
      if (reported.length > 0) await readReports(site, reported);
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
    polls,
    streams: createStreamWriter(redis, prefix),
    get wakingSites() {
      return polls.waking;
    },
    hand: (site, unit) => {
      subscribe();
      return handBatch(site, unit);
    },
    waitFor: (site, unit, signal) =>
      new Promise<UnitReport>((resolve, reject) => {
        subscribe();
        const onAbort = (): void => {
          waiters.delete(unit.id);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        const since = Date.now();
        waiters.set(unit.id, {
          site,
          unit,
          since,
          nextCheck: since + checkMs,
          resolve: (report) => {
            signal.removeEventListener('abort', onAbort);
            resolve(report);
          },
        });
      }),
    drop: (site, id) => dropBatch(site, id),
    handedHere: (site, id) => {
      const waiter = waiters.get(id);
      return waiter?.site === site ? waiter.unit : undefined;
    },
    recording: (ids, on) => {
      for (const id of ids) {
        if (on) recordingHere.add(id);
        else recordingHere.delete(id);
      }
    },
    stopPolls: () => polls.stop(),
    get pollsStopped() {
      return polls.stopped;
    },
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
