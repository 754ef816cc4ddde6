/**
 * Agent sessions: a hello opens one per site. While a site's session is live, a hello of another
 * agent id is refused (409 SITE_HAS_AGENT) unless it says `replace`; the same agent id (its link
 * saying hello again) always opens a new one. Every heartbeat or poll keeps a session alive, and
 * a session not heard from for `sessionTtlMs` is gone (its units are handed again, relay.ts). A heartbeat also feeds the site's
 * heartbeat sighting (engine/locks sightings: data-loss claims measure a lost site to it) and keeps
 * the agent's script-catalog announcement alive, which pre-flight reads (catalog-announce.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DrError } from '../../common/index.ts';
import {
  type AgentHeartbeat,
  type AgentHello,
  type SiteList,
  versionsCompatible,
} from '../../contract/index.ts';
import { renewCatalogAnnouncement, writeCatalogAnnouncement } from '../../executor/index.ts';
import { createSightingStore } from '../../locks/index.ts';
import { CONTROL_VERSION } from '../context.ts';
import { agentKeys, agentSitesKey } from './keys.ts';

export interface SessionOptions {
  /**
   * How often agents are asked to send a heartbeat.
   * @defaultValue 1000
   */
  heartbeatMs?: number;
  /**
   * A session not heard from (heartbeat or poll) for this long is gone: its units are handed again.
   * @defaultValue 5000
   */
  sessionTtlMs?: number;
}

export interface AgentSessionRecord {
  site: string;
  session: string;
  agentId: string;
  version: string;
  helloAt: number;
  heartbeatAt: number;
  hostsSeenAt?: string;
  /** The agent's clock minus the control plane's at its last heartbeat (vault/guard.ts measures it). */
  clockSkewMs?: number;
}

/** Check the session and record that it was heard from, in one script: 'ok', 'none' or 'other'. */
const TOUCH = `
local current = redis.call('HGET', KEYS[1], 'session')
if not current then return 'none' end
if current ~= ARGV[1] then return 'other' end
redis.call('HSET', KEYS[1], 'heartbeatAt', ARGV[2])
return 'ok'
`;

/**
 * Open a session unless another agent's is live, in one script on the site's slot: KEYS session,
 * running; ARGV session, agentId, version, now, ttl, replace ('1'). Returns 'ok', or the live
 * agent's id and heartbeat time.
 */
const HELLO = `
local agent = redis.call('HGET', KEYS[1], 'agentId')
local beat = tonumber(redis.call('HGET', KEYS[1], 'heartbeatAt') or '0')
if agent and agent ~= ARGV[2] and ARGV[6] ~= '1' and tonumber(ARGV[4]) - beat < tonumber(ARGV[5]) then
  return {agent, tostring(beat)}
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'session', ARGV[1], 'agentId', ARGV[2], 'version', ARGV[3],
  'helloAt', ARGV[4], 'heartbeatAt', ARGV[4])
return 'ok'
`;

export function catalogWorker(agentId: string): string {
  return `agent-${agentId}`;
}

export interface Sessions {
  readonly heartbeatMs: number;
  readonly sessionTtlMs: number;
  hello(hello: AgentHello): Promise<AgentSessionRecord>;
  /** Throws the 409 the agent acts on when `session` is not the site's current one. */
  touch(site: string, session: string): Promise<void>;
  /** The same 409 for a session status a script returned ('none', 'other'); nothing for 'ok'. */
  refuse(site: string, session: string, status: string): Promise<void>;
  /** A heartbeat; resolves to whether the agent should send its catalog again (it lapsed). */
  heartbeat(site: string, beat: AgentHeartbeat): Promise<{ sendCatalog: boolean }>;
  current(site: string): Promise<AgentSessionRecord | undefined>;
  isLive(record: AgentSessionRecord | undefined, now?: number): boolean;
  list(): Promise<SiteList['sites']>;
}

export function createSessions(redis: Redis, prefix: string, options: SessionOptions = {}): Sessions {
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const sessionTtlMs = options.sessionTtlMs ?? 5000;
  const sightings = createSightingStore(redis, prefix);

  const current = async (site: string): Promise<AgentSessionRecord | undefined> => {
    const raw = await redis.hgetall(agentKeys(prefix, site).session);
    if (raw.session === undefined) return undefined;
    return {
      site,
      session: raw.session,
      agentId: raw.agentId ?? '',
      version: raw.version ?? '',
      helloAt: Number(raw.helloAt ?? 0),
      heartbeatAt: Number(raw.heartbeatAt ?? 0),
      ...(raw.hostsSeenAt ? { hostsSeenAt: raw.hostsSeenAt } : {}),
      ...(raw.clockSkewMs === undefined ? {} : { clockSkewMs: Number(raw.clockSkewMs) }),
    };
  };

  const refuse = async (site: string, session: string, status: string): Promise<void> => {
    if (status === 'ok') return;
    if (status === 'none') {
      throw new DrError(
        'UNKNOWN_SESSION',
        `no agent session ${session} for site ${site}: say hello again (POST /api/v1/agents/${site}/hello)`,
        { details: { status: 409, site } },
      );
    }
    const now = await current(site);
    throw new DrError(
      'AGENT_REPLACED',
      `session ${session} of site ${site} was replaced by a later hello (agent ${now?.agentId ?? '?'}): only one agent serves a site; this one should stop`,
      { details: { status: 409, site, agentId: now?.agentId ?? '' } },
    );
  };

  const touch = async (site: string, session: string): Promise<void> => {
    const status = await redis.eval(TOUCH, 1, agentKeys(prefix, site).session, session, String(Date.now()));
    await refuse(site, session, String(status));
  };

  return {
    heartbeatMs,
    sessionTtlMs,
    current,
    touch,
    refuse,
    isLive: (record, now = Date.now()) => record !== undefined && now - record.heartbeatAt < sessionTtlMs,
    hello: async (hello) => {
      if (!versionsCompatible(hello.version, CONTROL_VERSION)) {
        throw new DrError(
          'AGENT_VERSION_MISMATCH',
          `agent ${hello.agentId} of site ${hello.site} runs version ${hello.version}, the control plane ${CONTROL_VERSION}: they work together only with the same major.minor; upgrade the one that is behind`,
          { details: { status: 426, agentVersion: hello.version, controlVersion: CONTROL_VERSION } },
        );
      }
      const now = Date.now();
      const record: AgentSessionRecord = {
        site: hello.site,
        session: randomBytes(16).toString('hex'),
        agentId: hello.agentId,
        version: hello.version,
        helloAt: now,
        heartbeatAt: now,
      };
      const keys = agentKeys(prefix, hello.site);
      const opened = await redis.eval(
        HELLO,
        2,
        keys.session,
        keys.running,
        record.session,
        record.agentId,
        record.version,
        String(now),
        String(sessionTtlMs),
        hello.replace === true ? '1' : '0',
      );
      if (Array.isArray(opened)) {
        const [running, beat] = opened.map(String) as [string, string];
        const ago = Math.max(0, now - Number(beat));
        throw new DrError(
          'SITE_HAS_AGENT',
          `site ${hello.site} is served by agent ${running} (last heard ${ago} ms ago); one agent serves a site: stop that one and start this again once its session ends (${Math.ceil(sessionTtlMs / 1000)} s after its last heartbeat), or start this one with --replace to take the site over`,
          { details: { status: 409, site: hello.site, agentId: running } },
        );
      }
      await redis.sadd(agentSitesKey(prefix), hello.site);
      await writeCatalogAnnouncement(redis, prefix, {
        worker: catalogWorker(hello.agentId),
        site: hello.site,
        ...(hello.scriptCatalog.folder === undefined ? {} : { folder: hello.scriptCatalog.folder }),
        scripts: hello.scriptCatalog.scripts,
        at: new Date(now).toISOString(),
      });
      return record;
    },
    heartbeat: async (site, beat) => {
      await touch(site, beat.session);
      const keys = agentKeys(prefix, site);
      const multi = redis
        .multi()
        .set(keys.running, JSON.stringify({ at: Date.now(), session: beat.session, ids: beat.running }))
        // The lease's renewal counter: the site monitor's leader (control/monitor) counts these.
        .hincrby(keys.session, 'renewals', 1);
      if (beat.hostsSeenAt !== undefined) multi.hset(keys.session, 'hostsSeenAt', beat.hostsSeenAt);
      await multi.exec();
      if (beat.hostsSeenAt !== undefined) await sightings.heartbeat(site, beat.hostsSeenAt);
      const agentId = (await redis.hget(keys.session, 'agentId')) ?? '';
      if (beat.scriptCatalog !== undefined) {
        await writeCatalogAnnouncement(redis, prefix, {
          worker: catalogWorker(agentId),
          site,
          ...(beat.scriptCatalog.folder === undefined ? {} : { folder: beat.scriptCatalog.folder }),
          scripts: beat.scriptCatalog.scripts,
          at: new Date().toISOString(),
        });
        return { sendCatalog: false };
      }
      const renewed = await renewCatalogAnnouncement(redis, prefix, site, catalogWorker(agentId));
      return { sendCatalog: !renewed };
    },
    list: async () => {
      const sites = (await redis.smembers(agentSitesKey(prefix))).sort();
      const now = Date.now();
      const out: SiteList['sites'] = [];
      for (const site of sites) {
        const record = await current(site);
        if (record === undefined) continue;
        out.push({
          site,
          agentId: record.agentId,
          version: record.version,
          live: now - record.heartbeatAt < sessionTtlMs,
          heartbeatAt: new Date(record.heartbeatAt).toISOString(),
          heartbeatAgeMs: Math.max(0, now - record.heartbeatAt),
          ...(record.hostsSeenAt === undefined ? {} : { hostsSeenAt: record.hostsSeenAt }),
          ...(record.clockSkewMs === undefined ? {} : { clockSkewMs: record.clockSkewMs }),
        });
      }
      return out;
    },
  };
}
