/**
 * Time → bucket arithmetic for the 24-hour history: 288 buckets of 5 minutes, aligned on the Unix
 * epoch (so every process and every site agrees on where a bucket starts, whatever its clock zone).
 * Pure: every function takes the time it needs.
 */

/** One bucket: 5 minutes. */
export const BUCKET_MS = 5 * 60_000;
/** Buckets in a series: 24 hours of 5-minute buckets. */
export const SERIES_BUCKETS = 288;
/**
 * Slots are stamped with their bucket number modulo this (14 bits), so a slot written a day ago
 * (same slot, bucket 288 lower) reads as a gap. The stamp repeats for a slot only every
 * lcm(16384, 288) buckets = 512 days, far beyond the key's TTL.
 */
export const STAMP_MODULUS = 16_384;

/** The bucket a time falls in: buckets are [start, start + 5 min). */
export function bucketOf(atMs: number): number {
  return Math.floor(atMs / BUCKET_MS);
}

/** When a bucket starts, ms since the Unix epoch. */
export function bucketStart(bucket: number): number {
  return bucket * BUCKET_MS;
}

/** Where a bucket lives in a VM's ring of 288 slots. */
export function slotOf(bucket: number): number {
  return bucket % SERIES_BUCKETS;
}

export function stampOf(bucket: number): number {
  return bucket % STAMP_MODULUS;
}

/** The buckets a series read at `nowMs` covers: the current bucket and the 287 before it. */
export function seriesWindow(nowMs: number): { first: number; last: number } {
  const last = bucketOf(nowMs);
  return { first: last - SERIES_BUCKETS + 1, last };
}
