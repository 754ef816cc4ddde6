/**
 * Durations, read and written the one way the whole product does: in plans, world files, CLI
 * flags and every message and table.
 *
 * The grammar: one or more `<number><unit>` parts, units among d, h, m, s, ms, largest first and
 * each at most once; a number may have a fraction ("1.5h"); spaces may sit between a number and
 * its unit, between parts and around the whole ("1h 30m", " 5 m "). So "90s", "5m", "1h30m",
 * "500ms", "1d", "1h 30m" and "2.5s" are durations, and "5m1h", "1h1h", "90", "5M" and "-5s" are
 * not: an ambiguous duration is refused rather than guessed at. The result is whole milliseconds
 * (rounded), and must be a safe integer.
 */

const UNITS = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
] as const;

const NUMBER = '(\\d+(?:\\.\\d+)?)';

/**
 * The grammar as one regular expression, which the plan's zod schema and its JSON Schema (for
 * editors) share. `m(?!s)` keeps "5ms" from reading as 5 minutes followed by garbage.
 */
export const DURATION_PATTERN = `^\\s*(?:${NUMBER}\\s*d\\s*)?(?:${NUMBER}\\s*h\\s*)?(?:${NUMBER}\\s*m(?!s)\\s*)?(?:${NUMBER}\\s*s\\s*)?(?:${NUMBER}\\s*ms\\s*)?$`;
const DURATION_RE = new RegExp(DURATION_PATTERN);

/** What to tell someone who wrote something else. */
export const DURATION_HINT = 'write durations like 90s, 5m, 1h30m, 500ms or 1d';

/** Longer than any sensible duration; keeps the regular expression's work bounded. */
const MAX_LENGTH = 64;

/** Milliseconds for a duration string, or undefined when it is not one. */
export function tryParseDuration(text: string): number | undefined {
  if (text.length > MAX_LENGTH) return undefined;
  const match = DURATION_RE.exec(text);
  if (match === null) return undefined;
  let total = 0;
  let parts = 0;
  for (let i = 0; i < UNITS.length; i++) {
    const count = match[i + 1];
    if (count === undefined) continue;
    parts++;
    total += Number(count) * UNITS[i]![1];
  }
  if (parts === 0) return undefined;
  const ms = Math.round(total);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** Milliseconds for a duration string such as "1h30m"; throws a RangeError when it is not one. */
export function parseDuration(text: string): number {
  const ms = tryParseDuration(text);
  if (ms === undefined) throw new RangeError(`invalid duration "${text}": ${DURATION_HINT}`);
  return ms;
}

/**
 * The exact, shortest duration string for a number of milliseconds, which reads back the same:
 * 5400000 → "1h30m", 500 → "500ms", 0 → "0s". For settings (a plan's timeouts, a deadline).
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`cannot format duration ${ms}`);
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  let out = '';
  for (const [unit, size] of UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return out;
}

/**
 * A duration to the second, in at most two units, for messages about ages and targets: "45s",
 * "5m 30s", "2h", "26h 5m". It reads back as a duration (a rounded one). A negative age (a clock
 * ahead of ours) keeps its sign.
 */
export function formatApproxDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatApproxDuration(-ms)}`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m}m` : `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
}

/**
 * Elapsed time on a run's clock, to a tenth of a second under a minute and to the second above:
 * "0.0s", "12.3s", "5m07s", "75m00s" (minutes do not roll over into hours, so columns line up).
 */
export function formatElapsed(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatElapsed(-ms)}`;
  const exact = Math.round(ms);
  const tenths = Math.round(exact / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)}s`;
  // Round once, then split: 119.7 s is "2m00s", not "1m60s".
  const total = Math.round(exact / 1000);
  return `${Math.floor(total / 60)}m${String(total % 60).padStart(2, '0')}s`;
}
