/** The site monitor's keys and what GET /sites reads of it (no imports: the agents' routes read it). */
import type { Redis } from 'ioredis';
import type { SiteMonitorState } from '../../machines/site-monitor.ts';

/** A site's lease as the leader last wrote it (GET /sites). */
export interface SiteLeaseView {
  state: SiteMonitorState;
  /** Wall time the leader wrote it (for display; the monitor itself never reads wall time). */
  at: string;
  /** The lease's remaining time on the leader's clock when written (negative: expired). */
  leaseLeftMs: number;
  leader: string;
}

/**
 * - `leader`: the monitor leader's lease (its id, PX);
 * - `view`: HASH site → SiteLeaseView JSON (GET /sites);
 * - `config`: the lease the monitor counts, JSON {leaseMs} (the agents' contact answer tells it);
 * - `asks(peer)`: HASH target site → WitnessAsk JSON, the probes the peer site's agent is asked for;
 * - `verdicts`: HASH target site → WitnessVerdictRecord JSON, what a witness answered.
 * A site's agent session hash (agents/keys.ts) also holds its contact (`peerUrl`, `hostEndpoints`)
 * and the relayed renewals counted for it (`relayed`, `relayedSentAt`).
 */
export function monitorKeys(prefix: string) {
  return {
    leader: `${prefix}:monitor:leader`,
    view: `${prefix}:monitor:sites`,
    config: `${prefix}:monitor:config`,
    asks: (peer: string) => `${prefix}:monitor:asks:${peer}`,
    verdicts: `${prefix}:monitor:verdicts`,
  };
}

/** A witness's answer as the contact routes keep it for the leader. */
export interface WitnessVerdictRecord {
  askId: string;
  verdict: 'reachable' | 'unreachable';
  by: 'peer' | 'arbiter';
  /** The site whose agent probed (or `arbiter`). */
  from: string;
  detail: string;
}

/** The leases the leader wrote, by site (GET /sites). */
export async function readSiteLeases(redis: Redis, prefix: string): Promise<Map<string, SiteLeaseView>> {
  const raw = await redis.hgetall(monitorKeys(prefix).view);
  return new Map(Object.entries(raw).map(([site, json]) => [site, JSON.parse(json) as SiteLeaseView]));
}
