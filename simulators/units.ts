import { tryParseDuration } from '../engine/common/index.ts';

/**
 * Durations as world files write them: the product's one grammar (`30s`, `5m`, `1h30m`, `250ms`,
 * engine/common/duration.ts), or a number of ms.
 */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  return tryParseDuration(value);
}

export const HOUR_MS = 3_600_000;
