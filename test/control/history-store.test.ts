import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BUCKET_MS,
  createHistoryStore,
  DEFAULT_HISTORY_TTL_MS,
  type HistorySample,
  type HistoryStoreOptions,
  historyKey,
  RING_BYTES,
  SERIES_BUCKETS,
} from '../../engine/control/history/index.ts';
import { testRedisClient, uniquePrefix } from '../support/redis.ts';

const DAY = SERIES_BUCKETS * BUCKET_MS;
/** A bucket boundary: 12:00:00 UTC. */
const T0 = Date.parse('2030-03-01T12:00:00Z');

let redis: Redis;
beforeAll(() => {
  redis = testRedisClient();
});
afterAll(async () => {
  await redis.quit();
});

function storeFor(options: Partial<HistoryStoreOptions> = {}) {
  const prefix = uniquePrefix('hist');
  return { prefix, store: createHistoryStore(redis, { prefix, clock: () => T0, ...options }) };
}

function sample(over: Partial<HistorySample> = {}): HistorySample {
  return { vm: 'sql-01', site: 'dc-east', at: T0, rpoSec: 30, health: 'Normal', ...over };
}

/** The point of `series` whose bucket starts at `at`. */
function pointAt(series: { points: { at: number }[] }, at: number) {
  return series.points.find((p) => p.at === at);
}

describe('inventory history store', () => {
  describe('when a VM has no history', () => {
    it('reads 288 gaps, oldest first, ending with the bucket now falls in, and no site', async () => {
      const { store } = storeFor();
      const series = await store.read('never-seen', { now: T0 + 90_000 });
      expect(series.site).toBeNull();
      expect(series.points).toHaveLength(SERIES_BUCKETS);
      expect(series.points.every((p) => p.health === null && p.rpoSec === null)).toBe(true);
      expect(series.points.at(-1)?.at).toBe(T0);
      expect(series.points[0]?.at).toBe(T0 - DAY + BUCKET_MS);
    });
  });

  describe('bucketing', () => {
    it('puts the last millisecond before a boundary and the boundary itself in adjacent points', async () => {
      const { store } = storeFor({ clock: () => T0 + BUCKET_MS });
      await store.record([
        sample({ at: T0 + BUCKET_MS - 1, rpoSec: 100 }),
        sample({ at: T0 + BUCKET_MS, rpoSec: 5, health: 'Warning' }),
      ]);
      const series = await store.read('sql-01');
      expect(series.points.at(-2)).toEqual({ at: T0, health: 'Normal', rpoSec: 100 });
      expect(series.points.at(-1)).toEqual({ at: T0 + BUCKET_MS, health: 'Warning', rpoSec: 5 });
      expect(series.points.slice(0, -2).every((p) => p.health === null)).toBe(true);
    });

    it('tells an RPO of zero from a sample without a last replication time', async () => {
      const { store } = storeFor({ clock: () => T0 + BUCKET_MS });
      await store.record([
        sample({ vm: 'zero', rpoSec: 0 }),
        sample({ vm: 'unknown', rpoSec: null, health: 'Critical' }),
      ]);
      const [zero, unknown] = await store.readMany(['zero', 'unknown']);
      expect(zero && pointAt(zero, T0)).toEqual({ at: T0, health: 'Normal', rpoSec: 0 });
      expect(unknown && pointAt(unknown, T0)).toEqual({ at: T0, health: 'Critical', rpoSec: null });
    });
  });

  describe('within one bucket', () => {
    it('keeps the worst RPO and the worst health across record() calls', async () => {
      const { store } = storeFor({ clock: () => T0 + 4 * 60_000 });
      await store.record([sample({ at: T0, rpoSec: 30, health: 'Normal' })]);
      await store.record([sample({ at: T0 + 60_000, rpoSec: 600, health: 'Normal' })]);
      await store.record([sample({ at: T0 + 120_000, rpoSec: 40, health: 'Critical' })]);
      await store.record([sample({ at: T0 + 180_000, rpoSec: 10, health: 'Warning' })]);
      const series = await store.read('sql-01');
      expect(series.points.at(-1)).toEqual({ at: T0, health: 'Critical', rpoSec: 600 });
    });

    it('keeps the worst of samples given in the same call', async () => {
      const { store } = storeFor({ clock: () => T0 + 4 * 60_000 });
      const counts = await store.record([
        sample({ rpoSec: 900, health: 'Warning' }),
        sample({ at: T0 + 60_000, rpoSec: 20, health: 'Normal' }),
      ]);
      expect(counts.recorded).toBe(2);
      expect((await store.read('sql-01')).points.at(-1)).toEqual({ at: T0, health: 'Warning', rpoSec: 900 });
    });

    it('keeps days-long RPOs, clamped at the ceiling rather than wrapped', async () => {
      const { store } = storeFor();
      await store.record([sample({ rpoSec: 3 * 86_400 }), sample({ vm: 'lost', rpoSec: 400 * 86_400 })]);
      const [long, lost] = await store.readMany(['sql-01', 'lost']);
      expect(long?.points.at(-1)?.rpoSec).toBe(3 * 86_400);
      expect(lost?.points.at(-1)?.rpoSec).toBeGreaterThan(20 * 86_400);
    });
  });

  describe('a day later', () => {
    it('reads the day-old slot as a gap, not as today', async () => {
      const { store } = storeFor();
      await store.record([sample({ rpoSec: 777, health: 'Critical' })], { now: T0 });
      const series = await store.read('sql-01', { now: T0 + DAY });
      // the bucket T0 + DAY uses the same slot as T0
      expect(series.points.at(-1)).toEqual({ at: T0 + DAY, health: null, rpoSec: null });
      expect(series.points.every((p) => p.health === null)).toBe(true);
      // one bucket earlier, T0 was still in the window
      expect((await store.read('sql-01', { now: T0 + DAY - 1 })).points[0]?.health).toBe('Critical');
    });

    it("overwrites the day-old slot instead of folding yesterday's worst into today", async () => {
      const { store } = storeFor();
      await store.record([sample({ rpoSec: 777, health: 'Critical' })], { now: T0 });
      await store.record([sample({ at: T0 + DAY, rpoSec: 30, health: 'Normal' })], { now: T0 + DAY });
      const series = await store.read('sql-01', { now: T0 + DAY });
      expect(series.points.at(-1)).toEqual({ at: T0 + DAY, health: 'Normal', rpoSec: 30 });
    });

    it('leaves a slot that holds a later bucket alone and counts the late sample as superseded', async () => {
      const { store } = storeFor();
      await store.record([sample({ at: T0 + DAY, rpoSec: 30 })], { now: T0 + DAY });
      // a process whose clock is a day behind writes the same slot
      const counts = await store.record([sample({ rpoSec: 999, health: 'Critical' })], { now: T0 });
      expect(counts).toEqual({ recorded: 0, tooOld: 0, future: 0, superseded: 1 });
      expect((await store.read('sql-01', { now: T0 + DAY })).points.at(-1)).toEqual({
        at: T0 + DAY,
        health: 'Normal',
        rpoSec: 30,
      });
    });
  });

  describe('bulk record', () => {
    it('records thousands of VMs in one call, across script chunks, and reads a page back in order', async () => {
      const { prefix, store } = storeFor({ vmsPerScript: 300, vmsPerRead: 40, clock: () => T0 + BUCKET_MS });
      const vms = Array.from({ length: 3_000 }, (_, i) => `vm-${i}`);
      const samples = vms.flatMap((vm, i) => [
        sample({ vm, site: i % 2 ? 'dc-west' : 'dc-east', at: T0, rpoSec: i }),
        sample({ vm, site: 'dc-east', at: T0 + BUCKET_MS, rpoSec: i + 1, health: 'Warning' }),
      ]);
      const counts = await store.record(samples);
      expect(counts).toEqual({ recorded: 6_000, tooOld: 0, future: 0, superseded: 0 });
      const page = vms.slice(2_900).concat('not-a-vm');
      const series = await store.readMany(page);
      expect(series.map((s) => s.vm)).toEqual(page);
      series.slice(0, -1).forEach((s, i) => {
        expect(s.site).toBe('dc-east');
        expect(s.points.at(-2)).toEqual({ at: T0, health: 'Normal', rpoSec: 2_900 + i });
        expect(s.points.at(-1)).toEqual({ at: T0 + BUCKET_MS, health: 'Warning', rpoSec: 2_901 + i });
      });
      expect(series.at(-1)?.site).toBeNull();
      // a ring is created at full size and stays there
      expect(await redis.strlen(historyKey(prefix, 'vm-0'))).toBe(RING_BYTES);
    });

    it('keeps the site of the latest sample', async () => {
      const { store } = storeFor({ clock: () => T0 + BUCKET_MS });
      await store.record([
        sample({ at: T0 + BUCKET_MS, site: 'dc-west' }),
        sample({ at: T0, site: 'dc-east' }),
      ]);
      expect((await store.read('sql-01')).site).toBe('dc-west');
    });

    it('writes nothing when one sample of the call is malformed', async () => {
      const { prefix, store } = storeFor();
      await expect(store.record([sample(), sample({ vm: '' })])).rejects.toThrow(/sample 1: vm must be/);
      expect(await redis.exists(historyKey(prefix, 'sql-01'))).toBe(0);
    });
  });

  describe('samples outside the window', () => {
    it('counts a sample from before the last 24 hours and one from an agent clock ahead, and keeps neither', async () => {
      const { prefix, store } = storeFor({ futureToleranceMs: 60_000 });
      const counts = await store.record([
        sample({ at: T0 - DAY }),
        sample({ at: T0 + 60_001 }),
        sample({ vm: 'web-01', at: T0 + 60_000 }),
      ]);
      expect(counts).toEqual({ recorded: 1, tooOld: 1, future: 1, superseded: 0 });
      expect(await redis.exists(historyKey(prefix, 'sql-01'))).toBe(0);
    });

    it('refuses a future tolerance that would let a sample overwrite the day before it', () => {
      expect(() => storeFor({ futureToleranceMs: 2 * 3_600_000 })).toThrow(
        /futureToleranceMs must be at most/,
      );
      expect(() => storeFor({ ttlMs: 0 })).toThrow(/ttlMs must be a positive number/);
    });
  });

  describe('expiry', () => {
    it('sets a 25-hour TTL on a ring and refreshes it on every write', async () => {
      const { prefix, store } = storeFor();
      const key = historyKey(prefix, 'sql-01');
      await store.record([sample()]);
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(DEFAULT_HISTORY_TTL_MS - 60_000);
      expect(ttl).toBeLessThanOrEqual(DEFAULT_HISTORY_TTL_MS);
      await redis.pexpire(key, 5_000);
      await store.record([sample({ rpoSec: 31 })]);
      expect(await redis.pttl(key)).toBeGreaterThan(DEFAULT_HISTORY_TTL_MS - 60_000);
    });

    it('uses the TTL it is given', async () => {
      const { prefix, store } = storeFor({ ttlMs: 3_600_000 });
      await store.record([sample()]);
      const ttl = await redis.pttl(historyKey(prefix, 'sql-01'));
      expect(ttl).toBeGreaterThan(3_500_000);
      expect(ttl).toBeLessThanOrEqual(3_600_000);
    });
  });
});
