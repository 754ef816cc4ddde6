/**
 * Units handed to agents, in Redis (keys.ts), so that any control plane can serve an agent's poll or
 * take its results, and the one whose relay waits for a unit reads its report there: a unit is put
 * on its site's ready list (`hand`), a poll pops it and marks it handed to the polling session
 * (`take`), the agent's report is recorded once (`record`), and the waiting relay reads it and drops
 * the unit (`drop`). A unit handed to a session that went away is put back on the list (`rehand`).
 */
import type { Redis } from 'ioredis';
import type { HandedUnit, UnitReport } from '../../contract/index.ts';
import { agentKeys, resultsChannel, UNIT_TTL_S, wakeChannel } from './keys.ts';

/** Keep the unit (and whom it was handed to), unless a report is in: then return that. */
const HAND = `
local r = redis.call('HGET', KEYS[1], 'r')
if r then return r end
redis.call('HSET', KEYS[1], 'u', ARGV[1])
redis.call('HSETNX', KEYS[1], 's', '')
redis.call('HSETNX', KEYS[1], 'h', '0')
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return false
`;

/** Check the session, record it heard from, and pop up to ARGV[3] units handed to it now. */
const TAKE = `
local current = redis.call('HGET', KEYS[1], 'session')
if not current then return {'none'} end
if current ~= ARGV[1] then return {'other'} end
redis.call('HSET', KEYS[1], 'heartbeatAt', ARGV[2])
local out = {'ok'}
local seen = {}
local max = tonumber(ARGV[3])
while #out - 1 < max do
  local id = redis.call('LPOP', KEYS[2])
  if not id then break end
  if not seen[id] then
    seen[id] = true
    local key = ARGV[4] .. id
    local u = redis.call('HGET', key, 'u')
    if u and redis.call('HEXISTS', key, 'r') == 0 then
      redis.call('HSET', key, 's', ARGV[1], 'h', ARGV[2])
      out[#out + 1] = u
    end
  end
end
return out
`;

/** Record a report once, for the session the unit was handed to: 'ok', 'dup', 'gone' or 'other'. */
const RECORD = `
local s = redis.call('HGET', KEYS[1], 's')
if not s then return 'gone' end
if redis.call('HEXISTS', KEYS[1], 'r') == 1 then return 'dup' end
if s ~= ARGV[1] then return 'other' end
redis.call('HSET', KEYS[1], 'r', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 'ok'
`;

/** Put a unit back on the ready list, unless its report is in or it is gone. */
const REHAND = `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'r') == 1 then return 0 end
redis.call('HSET', KEYS[1], 's', '', 'h', '0')
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`;

/** One handed unit as stored. */
export interface HandedEntry {
  unit: HandedUnit;
  /** The session it was last handed to ('' while on the ready list). */
  session: string;
  handedAt: number;
  report?: UnitReport;
}

export type TakeStatus = 'ok' | 'none' | 'other';

export interface Handing {
  /** Hand a unit to its site's agents; resolves to the report already recorded for it, if any. */
  hand(site: string, unit: HandedUnit): Promise<UnitReport | undefined>;
  take(site: string, session: string, max: number): Promise<{ status: TakeStatus; units: HandedUnit[] }>;
  read(site: string, ids: readonly string[]): Promise<(HandedEntry | undefined)[]>;
  record(site: string, session: string, report: UnitReport): Promise<'ok' | 'dup' | 'gone' | 'other'>;
  rehand(site: string, id: string): Promise<boolean>;
  drop(site: string, id: string): Promise<void>;
}

export function createHanding(redis: Redis, prefix: string): Handing {
  const wake = wakeChannel(prefix);
  return {
    hand: async (site, unit) => {
      const keys = agentKeys(prefix, site);
      const reply = await redis.eval(
        HAND,
        2,
        `${keys.unitPrefix}${unit.id}`,
        keys.ready,
        JSON.stringify(unit),
        String(UNIT_TTL_S),
        unit.id,
        wake,
        site,
      );
      return typeof reply === 'string' ? (JSON.parse(reply) as UnitReport) : undefined;
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
      return { status: status as TakeStatus, units: units.map((u) => JSON.parse(u) as HandedUnit) };
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
    record: async (site, session, report) => {
      const keys = agentKeys(prefix, site);
      const reply = await redis.eval(
        RECORD,
        1,
        `${keys.unitPrefix}${report.unit}`,
        session,
        JSON.stringify(report),
        resultsChannel(prefix),
        `${site} ${report.unit}`,
      );
      return reply as 'ok' | 'dup' | 'gone' | 'other';
    },
    rehand: async (site, id) => {
      const keys = agentKeys(prefix, site);
      const reply = await redis.eval(REHAND, 2, `${keys.unitPrefix}${id}`, keys.ready, id, wake, site);
      return reply === 1;
    },
    drop: async (site, id) => {
      await redis.del(`${agentKeys(prefix, site).unitPrefix}${id}`);
    },
  };
}
