/**
 * Units handed to agents, in Redis (keys.ts), so that any control plane can serve an agent's poll or
 * take its results, and the one whose relay waits for a unit reads its report there: units are put
 * on their site's ready list, or straight to a poll waiting at the control plane that hands them
 * (`hand`), a poll pops them and marks them handed to the polling session (`take`), the agent's
 * reports are recorded once (`record`), and the waiting relay reads them and drops the units
 * (`drop`). A unit handed to a session that went away is put back on the list (`rehand`). Each call
 * takes many units in one round trip (handing-scripts.ts).
 */
import type { Redis } from 'ioredis';
import type { HandedUnit, UnitReport } from '../../contract/index.ts';
import { HAND, RECORD, REHAND, STATES, TAKE } from './handing-scripts.ts';
import { agentKeys, resultsChannel, UNIT_TTL_S, wakeChannel } from './keys.ts';

/** One handed unit as stored. */
export interface HandedEntry {
  unit: HandedUnit;
  /** The session it was last handed to ('' while on the ready list). */
  session: string;
  handedAt: number;
  report?: UnitReport;
}

/** A unit to hand, with its JSON (what a poll answers with, as it is). */
export interface UnitToHand {
  unit: HandedUnit;
  json: string;
}

/** How a hand went: the report already recorded, or given to the direct session, or listed. */
export type HandOutcome = { report: UnitReport } | { taken: true } | { listed: true };

export type TakeStatus = 'ok' | 'none' | 'other';

/** A unit's state as the periodic check reads it (no bodies). */
export type UnitState = 'missing' | 'reported' | { session: string; handedAt: number };

/** Per unit of a record call: gone, handed to another session, its report in already, or recorded. */
export type RecordStatus = 'gone' | 'other' | 'dup' | 'new';

export interface Handing {
  /**
   * Hand units to their site's agent; `direct`: straight to that session (a poll waiting here), at
   * most `max` of them, when it is the site's current one.
   */
  hand(
    site: string,
    units: readonly UnitToHand[],
    direct?: { session: string; max: number },
  ): Promise<HandOutcome[]>;
  /** Units popped for `session`, each as its JSON. */
  take(site: string, session: string, max: number): Promise<{ status: TakeStatus; units: string[] }>;
  read(site: string, ids: readonly string[]): Promise<(HandedEntry | undefined)[]>;
  states(site: string, ids: readonly string[]): Promise<UnitState[]>;
  /**
   * Record `reports` for `session`, all or none (see RECORD); `checked`: ids of units only checked
   * handed to it. Statuses are per report, then per checked id.
   */
  record(
    site: string,
    session: string,
    reports: readonly UnitReport[],
    checked?: readonly string[],
  ): Promise<{ status: TakeStatus; units: RecordStatus[] }>;
  rehand(site: string, id: string): Promise<boolean>;
  drop(site: string, ids: readonly string[]): Promise<void>;
}

export function createHanding(redis: Redis, prefix: string): Handing {
  const wake = wakeChannel(prefix);
  return {
    hand: async (site, units, direct) => {
      if (units.length === 0) return [];
      const keys = agentKeys(prefix, site);
      const reply = (await redis.eval(
        HAND,
        2 + units.length,
        keys.session,
        keys.ready,
        ...units.map((u) => `${keys.unitPrefix}${u.unit.id}`),
        direct?.session ?? '',
        String(direct?.max ?? 0),
        String(Date.now()),
        String(UNIT_TTL_S),
        wake,
        site,
        ...units.flatMap((u) => [u.unit.id, u.json]),
      )) as string[];
      return reply.map((r): HandOutcome => {
        if (r === 'T') return { taken: true };
        if (r === 'L') return { listed: true };
        return { report: JSON.parse(r) as UnitReport };
      });
    },
    take: async (site, session, max) => {
      const keys = agentKeys(prefix, site);
      const reply = (await redis.eval(
        TAKE,
        2,
        keys.session,
        keys.ready,
        session,
        String(Date.now()),
        String(max),
        keys.unitPrefix,
      )) as string[];
      const [status, ...units] = reply;
      return { status: status as TakeStatus, units };
    },
    read: async (site, ids) => {
      if (ids.length === 0) return [];
      const keys = agentKeys(prefix, site);
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hmget(`${keys.unitPrefix}${id}`, 'u', 's', 'h', 'r');
      const replies = (await pipeline.exec()) ?? [];
      return replies.map(([error, value]) => {
        if (error) throw error;
        const [u, s, h, r] = value as (string | null)[];
        if (u === null || u === undefined) return undefined;
        return {
          unit: JSON.parse(u) as HandedUnit,
          session: s ?? '',
          handedAt: Number(h ?? 0),
          ...(r ? { report: JSON.parse(r) as UnitReport } : {}),
        };
      });
    },
    states: async (site, ids) => {
      if (ids.length === 0) return [];
      const keys = agentKeys(prefix, site);
      const reply = (await redis.eval(
        STATES,
        ids.length,
        ...ids.map((id) => `${keys.unitPrefix}${id}`),
      )) as string[];
      return reply.map((r): UnitState => {
        if (r === 'm') return 'missing';
        if (r === 'r') return 'reported';
        const bar = r.lastIndexOf('|');
        return { session: r.slice(0, bar), handedAt: Number(r.slice(bar + 1)) };
      });
    },
    record: async (site, session, reports, checked = []) => {
      const keys = agentKeys(prefix, site);
      const ids = [...reports.map((r) => r.unit), ...checked];
      const reply = (await redis.eval(
        RECORD,
        1 + ids.length,
        keys.session,
        ...ids.map((id) => `${keys.unitPrefix}${id}`),
        session,
        String(Date.now()),
        resultsChannel(prefix),
        site,
        String(reports.length),
        ...reports.map((r) => JSON.stringify(r)),
        ...reports.map((r) => r.unit),
      )) as string[];
      const [status, ...units] = reply;
      return { status: status as TakeStatus, units: units as RecordStatus[] };
    },
    rehand: async (site, id) => {
      const keys = agentKeys(prefix, site);
      const reply = await redis.eval(REHAND, 2, `${keys.unitPrefix}${id}`, keys.ready, id, wake, site);
      return reply === 1;
    },
    drop: async (site, ids) => {
      if (ids.length === 0) return;
      const keys = agentKeys(prefix, site);
      await redis.del(...ids.map((id) => `${keys.unitPrefix}${id}`));
    },
  };
}
