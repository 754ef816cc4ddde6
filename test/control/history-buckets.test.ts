import { describe, expect, it } from 'vitest';
import { InputError } from '../../engine/common/index.ts';
import {
  BUCKET_MS,
  bucketOf,
  bucketStart,
  decodeRpo,
  encodeRpo,
  planBatch,
  RPO_CEILING_SEC,
  SERIES_BUCKETS,
  seriesWindow,
} from '../../engine/control/history/index.ts';

const T0 = Date.parse('2030-03-01T12:00:00Z');

describe('inventory history buckets', () => {
  it('puts a time exactly on a 5-minute boundary in the bucket it starts', () => {
    expect(bucketStart(bucketOf(T0))).toBe(T0);
    expect(bucketOf(T0 + BUCKET_MS - 1)).toBe(bucketOf(T0));
    expect(bucketOf(T0 + BUCKET_MS)).toBe(bucketOf(T0) + 1);
    expect(bucketOf(T0 - 1)).toBe(bucketOf(T0) - 1);
  });

  it('aligns buckets on the epoch, not on the first sample', () => {
    expect(bucketStart(bucketOf(Date.parse('2030-03-01T12:07:31Z')))).toBe(
      Date.parse('2030-03-01T12:05:00Z'),
    );
  });

  it('reads a window of 288 buckets ending with the one now falls in', () => {
    const { first, last } = seriesWindow(T0 + 42_000);
    expect(last).toBe(bucketOf(T0));
    expect(last - first + 1).toBe(SERIES_BUCKETS);
  });
});

describe('RPO encoding', () => {
  it('keeps RPOs to the second up to 10 hours and tells zero from unknown', () => {
    expect(decodeRpo(encodeRpo(0))).toBe(0);
    expect(decodeRpo(encodeRpo(null))).toBeNull();
    expect(decodeRpo(encodeRpo(31))).toBe(31);
    expect(decodeRpo(encodeRpo(35_999))).toBe(35_999);
  });

  it('rounds fractions and minutes up, never reporting a better RPO than measured', () => {
    expect(decodeRpo(encodeRpo(30.2))).toBe(31);
    expect(decodeRpo(encodeRpo(36_001))).toBe(36_060);
    expect(decodeRpo(encodeRpo(2 * 86_400))).toBe(2 * 86_400);
  });

  it('clamps a VM unreplicated for weeks to the ceiling (~20.9 days), and a negative RPO to 0', () => {
    expect(RPO_CEILING_SEC).toBeGreaterThan(20 * 86_400);
    expect(decodeRpo(encodeRpo(90 * 86_400))).toBe(RPO_CEILING_SEC);
    expect(decodeRpo(encodeRpo(-2))).toBe(0);
  });

  it('orders codes like RPOs, so the max of codes is the code of the worst RPO', () => {
    const rpos = [null, 0, 1, 59, 35_999, 36_000, 36_061, 500_000, 10_000_000];
    const codes = rpos.map(encodeRpo);
    expect([...codes].sort((a, b) => a - b)).toEqual(codes);
  });
});

describe('planning a record() call', () => {
  const sample = { vm: 'sql-01', site: 'dc-east', at: T0, rpoSec: 30, health: 'Normal' as const };

  it('folds samples of one VM and bucket into one slot update', () => {
    const { updates, counts } = planBatch(
      [sample, { ...sample, at: T0 + 60_000, rpoSec: 90 }],
      T0 + 60_000,
      0,
    );
    expect(updates).toHaveLength(1);
    expect(counts).toEqual({ recorded: 2, tooOld: 0, future: 0, superseded: 0 });
  });

  it('counts samples older than the window and ahead of the tolerance instead of keeping them', () => {
    const now = T0 + 10 * BUCKET_MS;
    const { updates, counts } = planBatch(
      [
        { ...sample, at: now - SERIES_BUCKETS * BUCKET_MS },
        { ...sample, at: now + BUCKET_MS + 1 },
        { ...sample, at: now },
      ],
      now,
      BUCKET_MS,
    );
    expect(counts).toEqual({ recorded: 1, tooOld: 1, future: 1, superseded: 0 });
    expect(updates).toHaveLength(1);
  });

  it('refuses the whole call when one sample is malformed, naming it', () => {
    const bad = [sample, { ...sample, vm: 'web-01', health: 'Bad' as never }];
    expect(() => planBatch(bad, T0, 0)).toThrow(InputError);
    expect(() => planBatch(bad, T0, 0)).toThrow(
      /sample 1 \(VM "web-01"\): health must be Normal, Warning or Critical/,
    );
    expect(() => planBatch([{ ...sample, at: Number.NaN }], T0, 0)).toThrow(/at must be a time/);
    expect(() => planBatch([{ ...sample, site: 'x'.repeat(64) }], T0, 0)).toThrow(
      /site is longer than 63 bytes/,
    );
    expect(() => planBatch([{ ...sample, rpoSec: Number.POSITIVE_INFINITY }], T0, 0)).toThrow(/rpoSec/);
  });
});
