/**
 * What the engine itself last saw of each primary, per site: the last time a read found it running,
 * when the engine turned it off (fence, planned shutdown) or found it off, and the last heartbeat of
 * its site (the site's agent read its hosts powered). This is the engine's half of a data-loss
 * claim (engine/contract/data-loss.ts): until when an old primary was known able to write. It is
 * what production gives the engine — no ledger, no write counts. Written by the site workers
 * (fence, shutdown and failover handlers, the fence sweep's turn), read by the failover handler and
 * by pre-flight. One hash per site (keys.ts), times are host times (ISO).
 */
import type { Redis } from 'ioredis';
import type { PrimarySighting } from '../contract/index.ts';
import { sightingsKey } from './keys.ts';

const HEARTBEAT = 'heartbeat';

export interface SightingStore {
  /** The VM was read Running or Starting at `at`. */
  running(site: string, vm: string, at: string): Promise<void>;
  /**
   * The engine turned the VM off at `at` (`fence`, `shutdown`), or found it off (`read`). A `read`
   * never replaces an earlier off-sighting that still holds (nothing ran since).
   */
  off(site: string, vm: string, at: string, by: 'fence' | 'shutdown' | 'read'): Promise<void>;
  /**
   * The engine started the VM here (Start-VM): an earlier off-sighting no longer says when it
   * stopped writing (a later failover must not take an old fence for its own).
   */
  started(site: string, vm: string): Promise<void>;
  /** The site's agent found its hosts powered at `at`. */
  heartbeat(site: string, at: string): Promise<void>;
  /** What the engine knows of these VMs at `site`, in one HMGET. */
  read(site: string, vms: readonly string[]): Promise<Map<string, PrimarySighting>>;
}

export function createSightingStore(redis: Redis, prefix: string): SightingStore {
  const read = async (site: string, vms: readonly string[]): Promise<Map<string, PrimarySighting>> => {
    const unique = [...new Set(vms)];
    const out = new Map<string, PrimarySighting>();
    if (unique.length === 0) return out;
    const fields = [HEARTBEAT, ...unique.flatMap((vm) => [`run:${vm}`, `off:${vm}`])];
    const values = await redis.hmget(sightingsKey(prefix, site), ...fields);
    const heartbeat = values[0] ?? null;
    unique.forEach((vm, i) => {
      const sighting: PrimarySighting = {};
      const running = values[1 + 2 * i] ?? null;
      const off = parseOff(values[2 + 2 * i] ?? null);
      if (running !== null) sighting.runningAt = running;
      if (off !== undefined) sighting.off = off;
      if (heartbeat !== null) sighting.siteHeartbeatAt = heartbeat;
      out.set(vm, sighting);
    });
    return out;
  };
  return {
    running: async (site, vm, at) => {
      await redis.hset(sightingsKey(prefix, site), `run:${vm}`, at);
    },
    off: async (site, vm, at, by) => {
      const key = sightingsKey(prefix, site);
      if (by === 'read') {
        const known = (await read(site, [vm])).get(vm);
        const still =
          known?.off !== undefined &&
          (known.runningAt === undefined || Date.parse(known.off.at) >= Date.parse(known.runningAt));
        if (still) return;
      }
      await redis.hset(key, `off:${vm}`, JSON.stringify({ at, by }));
    },
    started: async (site, vm) => {
      await redis.hdel(sightingsKey(prefix, site), `off:${vm}`);
    },
    heartbeat: async (site, at) => {
      await redis.hset(sightingsKey(prefix, site), HEARTBEAT, at);
    },
    read,
  };
}

function parseOff(raw: string | null): PrimarySighting['off'] {
  if (raw === null) return undefined;
  try {
    const value = JSON.parse(raw) as { at?: unknown; by?: unknown };
    if (typeof value.at !== 'string') return undefined;
    const by = value.by === 'fence' || value.by === 'shutdown' ? value.by : 'read';
    return { at: value.at, by };
  } catch {
    return undefined;
  }
}
