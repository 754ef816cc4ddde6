/**
 * Reading a ring back: 288 points, oldest first, one per bucket of the last 24 hours, with a gap
 * (health null) where the ring holds nothing for that bucket or holds a day-old slot.
 */
import type { ReplicationHealth } from '../../hosts/index.ts';
import { bucketStart, SERIES_BUCKETS, seriesWindow, slotOf, stampOf } from './buckets.ts';
import { RING_BYTES, SITE_MAX_BYTES, SITE_OFFSET } from './layout.ts';
import { decodeRpo, healthOfCode, SLOT_BYTES } from './slot.ts';

export interface HistoryPoint {
  /** Start of the 5-minute bucket, ms since the Unix epoch. */
  at: number;
  /** Worst replication health reported in the bucket; null: no sample in the bucket (a gap). */
  health: ReplicationHealth | null;
  /**
   * Worst RPO reported in the bucket, seconds (to the minute above 10 h, at most RPO_CEILING_SEC).
   * null in a gap, or when no sample of the bucket knew the last replication time.
   */
  rpoSec: number | null;
}

export interface VmHistory {
  vm: string;
  /** Site of the latest recorded sample; null when the VM has no history. */
  site: string | null;
  /** 288 points, oldest first; the last one is the bucket `now` falls in. */
  points: HistoryPoint[];
}

/** Decode one VM's ring (null: no key) as the series seen at `nowMs`. */
export function decodeSeries(vm: string, ring: Buffer | null, nowMs: number): VmHistory {
  const { first } = seriesWindow(nowMs);
  const points: HistoryPoint[] = new Array(SERIES_BUCKETS);
  const usable = ring !== null && ring.length === RING_BYTES ? ring : null;
  for (let i = 0; i < SERIES_BUCKETS; i++) {
    const bucket = first + i;
    const point: HistoryPoint = { at: bucketStart(bucket), health: null, rpoSec: null };
    points[i] = point;
    if (usable === null) continue;
    const offset = slotOf(bucket) * SLOT_BYTES;
    const head = usable.readUInt16BE(offset);
    const health = healthOfCode(head);
    // a slot of another bucket (a day or more old) is a gap for this one
    if (health === null || head >>> 2 !== stampOf(bucket)) continue;
    point.health = health;
    point.rpoSec = decodeRpo(usable.readUInt16BE(offset + 2));
  }
  return { vm, site: usable === null ? null : decodeSite(usable), points };
}

function decodeSite(ring: Buffer): string | null {
  const length = Math.min(ring[SITE_OFFSET] ?? 0, SITE_MAX_BYTES);
  if (length === 0) return null;
  return ring.toString('utf8', SITE_OFFSET + 1, SITE_OFFSET + 1 + length);
}
