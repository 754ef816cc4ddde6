/**
 * The engine's script catalog is the one its workers serve. Each worker announces, per site (its
 * queue), which catalog folder it runs scripts from and the entries there with their content
 * hashes, and renews the announcement while it lives (a TTL, so a dead worker's lapses by
 * itself). Pre-flight reads the announcements of the site where each script action of a run will
 * run (engine/preflight run.ts), so a run whose script no worker of that site serves is refused
 * before anything starts, instead of failing at the script half-way.
 *
 * Keys: `<prefix>:catalogs:<site>` (a set of worker ids) and `<prefix>:catalog:<site>:<worker>`
 * (the JSON announcement, `PX` TTL). Readers drop the ids whose announcement lapsed.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from '../common/index.ts';
import { scanCatalog } from './handlers/catalog.ts';

/** One live worker's announcement. */
export interface ServedCatalog {
  worker: string;
  site: string;
  /** The folder its scripts run from; absent when it serves none. */
  folder?: string;
  /** Entry name → sha256 of the file that runs. */
  scripts: Record<string, string>;
  /** When it was last renewed (ISO). */
  at: string;
}

/**
 * How long an announcement lives without renewal (renewed every third of it).
 * @defaultValue 15_000
 */
export const CATALOG_TTL_MS = 15_000;

function indexKey(prefix: string, site: string): string {
  return `${prefix}:catalogs:${site}`;
}

function entryKey(prefix: string, site: string, worker: string): string {
  return `${prefix}:catalog:${site}:${worker}`;
}

export interface CatalogAnnouncer {
  readonly worker: string;
  /** Resolves once the first announcement is in Redis. */
  readonly announced: Promise<void>;
  /** Stop renewing and withdraw the announcement. */
  stop(): Promise<void>;
}

/** Announce a worker's catalog now and every `ttlMs / 3` until stopped. */
export function startCatalogAnnouncer(options: {
  redis: Redis;
  prefix: string;
  site: string;
  folder: string | undefined;
  ttlMs?: number;
  log: Logger;
}): CatalogAnnouncer {
  const { redis, prefix, site, folder, log } = options;
  const ttlMs = options.ttlMs ?? CATALOG_TTL_MS;
  const worker = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const key = entryKey(prefix, site, worker);
  let stopped = false;
  const announce = async (): Promise<void> => {
    // Scanned again each time: an entry added to (or removed from) the folder shows within a TTL.
    const scripts = folder === undefined || folder === '' ? {} : await scanCatalog(folder);
    const body: ServedCatalog = {
      worker,
      site,
      ...(folder ? { folder } : {}),
      scripts,
      at: new Date().toISOString(),
    };
    if (stopped) return;
    await redis
      .multi()
      .set(key, JSON.stringify(body), 'PX', ttlMs)
      .sadd(indexKey(prefix, site), worker)
      .exec();
  };
  const announced = announce();
  announced.catch((error: unknown) => log.warn({ err: error }, 'could not announce the script catalog'));
  const timer = setInterval(
    () =>
      void announce().catch((error: unknown) =>
        log.warn({ err: error }, 'could not renew the script catalog announcement; retrying'),
      ),
    Math.max(50, Math.floor(ttlMs / 3)),
  );
  timer.unref();
  return {
    worker,
    announced: announced.catch(() => undefined),
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await redis
        .multi()
        .del(key)
        .srem(indexKey(prefix, site), worker)
        .exec()
        .catch(() => undefined);
    },
  };
}

/** The live announcements of a site's workers (`control` for control-plane actions). */
export async function readServedCatalogs(
  redis: Redis,
  prefix: string,
  site: string,
): Promise<ServedCatalog[]> {
  const workers = await redis.smembers(indexKey(prefix, site));
  if (workers.length === 0) return [];
  const values = await redis.mget(...workers.map((worker) => entryKey(prefix, site, worker)));
  const served: ServedCatalog[] = [];
  const lapsed: string[] = [];
  values.forEach((value, index) => {
    if (value === null) lapsed.push(workers[index] ?? '');
    else served.push(JSON.parse(value) as ServedCatalog);
  });
  if (lapsed.length > 0) await redis.srem(indexKey(prefix, site), ...lapsed);
  return served.sort((a, b) => a.worker.localeCompare(b.worker));
}

/**
 * Announce a catalog on behalf of a worker elsewhere (a site agent, through the control plane),
 * exactly as that worker's own announcer would: pre-flight reads it the same way.
 */
export async function writeCatalogAnnouncement(
  redis: Redis,
  prefix: string,
  served: ServedCatalog,
  ttlMs: number = CATALOG_TTL_MS,
): Promise<void> {
  await redis
    .multi()
    .set(entryKey(prefix, served.site, served.worker), JSON.stringify(served), 'PX', ttlMs)
    .sadd(indexKey(prefix, served.site), served.worker)
    .exec();
}

/** Keep such an announcement alive; false when it lapsed already (announce it again). */
export async function renewCatalogAnnouncement(
  redis: Redis,
  prefix: string,
  site: string,
  worker: string,
  ttlMs: number = CATALOG_TTL_MS,
): Promise<boolean> {
  return (await redis.pexpire(entryKey(prefix, site, worker), ttlMs)) === 1;
}
