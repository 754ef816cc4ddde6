/**
 * The vault's inventory in Redis. Per site, under one hash tag (so one script touches them all):
 *
 * ```
 * <prefix>:inventory:sites                SET: every site an agent ever reported
 * <prefix>:{inv:<site>}:meta              HASH: session, seq, complete, pending (part/parts of a full
 *                                         under way), asof (hosts' clock, ms), at (received, ms),
 *                                         fullat, hosts (JSON), networks (JSON), p* (a full's staging)
 * <prefix>:{inv:<site>}:vms               HASH vm → compact VM record (codec.ts), latest point included
 * <prefix>:{inv:<site>}:pts               HASH vm → its other recovery points (they change hourly)
 * <prefix>:{inv:<site>}:vms:next, pts:next  a full's parts, renamed over the live hashes by its last part
 * <prefix>:{inv:<site>}:refresh           STRING: when pre-flight asked for a refresh (ms), until a batch lands
 * ```
 *
 * Sequence: a full's part 0 starts a session (any seq); every later batch must carry the next seq
 * of that session. A retry of the batch last applied is acknowledged without a write; anything
 * else out of order (a changes batch after a missed batch, a full the vault does not have, another
 * session) is refused with 409 INVENTORY_RESYNC, and the reporter answers it with a full.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DrError } from '../../common/index.ts';
import { APPLY_BATCH } from './apply-script.ts';
import { encodePoints, encodeVm } from './codec.ts';
import { type BatchAnswer, type InventoryBatch, RESYNC_CODE } from './wire.ts';

export interface SiteKeys {
  meta: string;
  vms: string;
  pts: string;
  vmsNext: string;
  ptsNext: string;
  refresh: string;
}

export function siteKeys(prefix: string, site: string): SiteKeys {
  const base = `${prefix}:{inv:${site}}`;
  return {
    meta: `${base}:meta`,
    vms: `${base}:vms`,
    pts: `${base}:pts`,
    vmsNext: `${base}:vms:next`,
    ptsNext: `${base}:pts:next`,
    refresh: `${base}:refresh`,
  };
}

/** What the vault knows of a site, without its VMs. */
export interface SiteMeta {
  site: string;
  /** A full inventory was received (and changes since): the VMs can be served. */
  complete: boolean;
  /** Hosts' clock when the newest applied batch was read (ms since the epoch). */
  asOfMs?: number;
  /** Control plane's clock when that batch arrived (ms). */
  receivedAtMs?: number;
  fullAtMs?: number;
  seq: number;
  hostsJson: string | null;
  networksJson: string | null;
  /** When a refresh was asked and no batch has answered it yet (control plane's clock, ms). */
  refreshAskedAtMs?: number;
}

export interface InventoryStore {
  apply(site: string, batch: InventoryBatch, receivedAtMs: number): Promise<BatchAnswer>;
  meta(site: string): Promise<SiteMeta>;
  /** When a refresh was asked and no batch has answered it yet (ms), read alone: what a poll needs. */
  refreshAskedAt(site: string): Promise<number | undefined>;
  /** Every VM record of a site (and, when `points`, every points record): one consistent read. */
  readSite(site: string, options?: { points?: boolean }): Promise<SiteRecords>;
  /** One VM's record and points, from the live hashes. */
  readVm(site: string, vm: string): Promise<{ vm: string | null; points: string | null }>;
  sites(): Promise<string[]>;
  /** Ask the site's agent for a fresh sweep (seen by it in its next batch answer or refresh poll). */
  requestRefresh(site: string, atMs: number, ttlMs: number): Promise<void>;
}

export interface SiteRecords {
  meta: SiteMeta;
  vms: Record<string, string>;
  points: Record<string, string>;
}

const META_FIELDS = ['complete', 'asof', 'at', 'fullat', 'seq', 'hosts', 'networks'] as const;
const APPLY_SHA = createHash('sha1').update(APPLY_BATCH).digest('hex');

export function createInventoryStore(redis: Redis, prefix: string): InventoryStore {
  const sitesKey = `${prefix}:inventory:sites`;
  const num = (text: string | null | undefined): number | undefined =>
    text === null || text === undefined || text === '' ? undefined : Number(text);

  function toMeta(site: string, fields: (string | null)[], refresh: string | null): SiteMeta {
    const [complete, asof, at, fullat, seq, hosts, networks] = fields;
    const asOfMs = num(asof);
    const receivedAtMs = num(at);
    const fullAtMs = num(fullat);
    const refreshAskedAtMs = num(refresh);
    return {
      site,
      complete: complete === '1',
      seq: num(seq) ?? 0,
      hostsJson: hosts ?? null,
      networksJson: networks ?? null,
      ...(asOfMs === undefined ? {} : { asOfMs }),
      ...(receivedAtMs === undefined ? {} : { receivedAtMs }),
      ...(fullAtMs === undefined ? {} : { fullAtMs }),
      ...(refreshAskedAtMs === undefined ? {} : { refreshAskedAtMs }),
    };
  }

  async function runApply(keys: SiteKeys, args: (string | number)[]): Promise<unknown> {
    const list = Object.values(keys);
    try {
      return await redis.evalsha(APPLY_SHA, list.length, ...list, ...args);
    } catch (error) {
      if (error instanceof Error && error.message.includes('NOSCRIPT'))
        return await redis.eval(APPLY_BATCH, list.length, ...list, ...args);
      throw error;
    }
  }

  return {
    async apply(site, batch, receivedAtMs) {
      const keys = siteKeys(prefix, site);
      const args: (string | number)[] = [
        batch.kind,
        batch.session,
        batch.seq,
        batch.kind === 'full' ? batch.part : 0,
        batch.kind === 'full' ? batch.parts : 1,
        Date.parse(batch.hostTime),
        receivedAtMs,
        batch.hosts === undefined ? '-' : JSON.stringify(batch.hosts),
        batch.networks === undefined ? '-' : JSON.stringify(batch.networks),
        batch.vms.length,
      ];
      for (const vm of batch.vms)
        args.push(vm.name, encodeVm(vm), vm.points === undefined ? '-' : encodePoints(vm.points));
      if (batch.kind === 'changes') args.push(...batch.removed);
      const [status, reason, refresh] = (await runApply(keys, args)) as [string, string, number];
      if (status === 'resync') {
        throw new DrError(
          RESYNC_CODE,
          `inventory batch ${batch.seq} (${batch.kind}) of site '${site}' refused: ${reason}; send a full inventory`,
          { details: { status: 409, site, seq: batch.seq } },
        );
      }
      if (status === 'ok') await redis.sadd(sitesKey, site);
      return { applied: status === 'ok', seq: batch.seq, refresh: refresh === 1 };
    },

    async meta(site) {
      const keys = siteKeys(prefix, site);
      const [fields, refresh] = await Promise.all([
        redis.hmget(keys.meta, ...META_FIELDS),
        redis.get(keys.refresh),
      ]);
      return toMeta(site, fields, refresh);
    },

    refreshAskedAt: async (site) => num(await redis.get(siteKeys(prefix, site).refresh)),

    async readSite(site, options = {}) {
      const keys = siteKeys(prefix, site);
      const multi = redis
        .multi()
        .hmget(keys.meta, ...META_FIELDS)
        .get(keys.refresh)
        .hgetall(keys.vms);
      if (options.points === true) multi.hgetall(keys.pts);
      const results = await multi.exec();
      if (results === null)
        throw new DrError('INVENTORY_READ', `reading the inventory of '${site}' was aborted`);
      for (const [error] of results) if (error) throw error;
      const [fields, refresh, vms, points] = results.map(([, value]) => value);
      return {
        meta: toMeta(site, fields as (string | null)[], refresh as string | null),
        vms: vms as Record<string, string>,
        points: (points ?? {}) as Record<string, string>,
      };
    },

    async readVm(site, vm) {
      const keys = siteKeys(prefix, site);
      const [record, points] = await Promise.all([redis.hget(keys.vms, vm), redis.hget(keys.pts, vm)]);
      return { vm: record, points };
    },

    sites: async () => (await redis.smembers(sitesKey)).sort(),

    async requestRefresh(site, atMs, ttlMs) {
      // NX: the first ask's time stands, so a later ask does not push the answer further out.
      await redis.set(
        siteKeys(prefix, site).refresh,
        String(atMs),
        'PX',
        Math.max(1, Math.round(ttlMs)),
        'NX',
      );
    },
  };
}
