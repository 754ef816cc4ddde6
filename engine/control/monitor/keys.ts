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

export function monitorKeys(prefix: string) {
  return { leader: `${prefix}:monitor:leader`, view: `${prefix}:monitor:sites` };
}

/** The leases the leader wrote, by site (GET /sites). */
export async function readSiteLeases(redis: Redis, prefix: string): Promise<Map<string, SiteLeaseView>> {
  const raw = await redis.hgetall(monitorKeys(prefix).view);
  return new Map(Object.entries(raw).map(([site, json]) => [site, JSON.parse(json) as SiteLeaseView]));
}
