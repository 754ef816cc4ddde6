/**
 * Durations as DR admins write them: "90s", "5m", "1h30m", "500ms", "1d". Units must appear in
 * descending order and at most once, so "5m1h" or "1h1h" are rejected rather than guessed at.
 */
const UNITS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;

/** The pattern the JSON Schema and the zod schema share. */
export const DURATION_PATTERN = '^(?:(\\d+)d)?(?:(\\d+)h)?(?:(\\d+)m(?!s))?(?:(\\d+)s)?(?:(\\d+)ms)?$';
const DURATION_RE = new RegExp(DURATION_PATTERN);

export const DURATION_HINT = 'write durations like 90s, 5m, 1h30m, 500ms or 1d';

/** Milliseconds for a duration string, or undefined when it is not one. */
export function tryParseDuration(text: string): number | undefined {
  if (text.length === 0 || text.length > 40) return undefined;
  const match = DURATION_RE.exec(text);
  if (match === null) return undefined;
  const [, d, h, m, s, ms] = match;
  if (d === undefined && h === undefined && m === undefined && s === undefined && ms === undefined) {
    return undefined;
  }
  const total =
    Number(d ?? 0) * UNITS.d +
    Number(h ?? 0) * UNITS.h +
    Number(m ?? 0) * UNITS.m +
    Number(s ?? 0) * UNITS.s +
    Number(ms ?? 0);
  return Number.isSafeInteger(total) ? total : undefined;
}

/** Milliseconds for a duration string such as "1h30m"; throws a RangeError when it is not one. */
export function parseDuration(text: string): number {
  const ms = tryParseDuration(text);
  if (ms === undefined) throw new RangeError(`invalid duration "${text}": ${DURATION_HINT}`);
  return ms;
}

/** The shortest duration string for a number of milliseconds: 5400000 → "1h30m", 0 → "0s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`cannot format duration ${ms}`);
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  let out = '';
  for (const [unit, size] of Object.entries(UNITS)) {
    const count = Math.floor(rest / size);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return out;
}
