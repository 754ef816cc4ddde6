/**
 * One bucket of one VM, as 4 bytes (see ARCHITECTURE.md):
 *
 *   bytes 0-1  uint16 BE: stamp (bucket mod 16384) << 2 | health (0 none, 1 Normal, 2 Warning, 3 Critical)
 *   bytes 2-3  uint16 BE: worst RPO code (0 unknown, then seconds, then minutes; see encodeRpo)
 *
 * Both fields fold by max: the worst health and the worst RPO of the bucket win. A slot of zero
 * bytes (a fresh ring) has health 0: no data, never confused with an RPO of zero.
 */
import type { ReplicationHealth } from '../../hosts/index.ts';
import { stampOf } from './buckets.ts';

export const SLOT_BYTES = 4;

const HEALTH_CODES: Readonly<Record<ReplicationHealth, number>> = { Normal: 1, Warning: 2, Critical: 3 };
const HEALTH_BY_CODE: readonly (ReplicationHealth | null)[] = [null, 'Normal', 'Warning', 'Critical'];

export function isReplicationHealth(value: unknown): value is ReplicationHealth {
  return value === 'Normal' || value === 'Warning' || value === 'Critical';
}

export function healthCode(health: ReplicationHealth): number {
  return HEALTH_CODES[health];
}

/** null for code 0 (no sample). */
export function healthOfCode(code: number): ReplicationHealth | null {
  return HEALTH_BY_CODE[code & 3] ?? null;
}

/** RPOs up to 10 h are kept to the second; above, to the minute (rounded up: never better than measured). */
const EXACT_SECONDS = 36_000;
const FIRST_MINUTE_CODE = EXACT_SECONDS + 1;
const MAX_CODE = 0xffff;

/**
 * The largest RPO a slot can hold: ~20.9 days. A VM unreplicated for longer reads as this value,
 * meaning "at least"; a DR chart needs no finer word for it.
 */
export const RPO_CEILING_SEC = EXACT_SECONDS + (MAX_CODE - FIRST_MINUTE_CODE) * 60;

/**
 * RPO seconds → a 16-bit code whose order is the RPO's order (so max of codes is the code of the
 * max). 0 is "unknown" (no last replication time reported), below every known RPO.
 */
export function encodeRpo(rpoSec: number | null): number {
  if (rpoSec === null) return 0;
  const sec = Math.ceil(Math.max(0, rpoSec));
  if (sec < EXACT_SECONDS) return sec + 1;
  return Math.min(MAX_CODE, FIRST_MINUTE_CODE + Math.ceil((sec - EXACT_SECONDS) / 60));
}

export function decodeRpo(code: number): number | null {
  if (code === 0) return null;
  if (code < FIRST_MINUTE_CODE) return code - 1;
  return EXACT_SECONDS + (code - FIRST_MINUTE_CODE) * 60;
}

/** A slot's two words, as numbers. */
export interface EncodedSlot {
  /** stamp << 2 | health code */
  head: number;
  rpoCode: number;
}

export function encodeSlot(bucket: number, health: ReplicationHealth, rpoSec: number | null): EncodedSlot {
  return { head: (stampOf(bucket) << 2) | healthCode(health), rpoCode: encodeRpo(rpoSec) };
}

/**
 * Fold two samples of the same bucket: worst health, worst RPO. The Lua script in script.ts does
 * the same inside Redis for samples of different record() calls.
 */
export function foldSlot(a: EncodedSlot, b: EncodedSlot): EncodedSlot {
  return { head: Math.max(a.head, b.head), rpoCode: Math.max(a.rpoCode, b.rpoCode) };
}
