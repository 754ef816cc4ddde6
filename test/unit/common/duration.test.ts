import { describe, expect, it } from 'vitest';
import {
  DURATION_PATTERN,
  formatApproxDuration,
  formatDuration,
  formatElapsed,
  parseDuration,
  tryParseDuration,
} from '../../../engine/common/index.ts';
import { parseDuration as parseWorldDuration } from '../../../simulators/units.ts';

describe('the duration grammar', () => {
  it.each([
    // The forms plans have always accepted.
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1d', 86_400_000],
    ['2h0m5s', 7_205_000],
    ['1d1h1m1s1ms', 90_061_001],
    ['0s', 0],
    ['0h', 0],
    // The forms world files and `drctl sim` flags have always accepted.
    ['1.5h', 5_400_000],
    ['2.5s', 2_500],
    ['0.25d', 21_600_000],
    ['1.5ms', 2],
    ['30 s', 30_000],
    [' 5m ', 300_000],
    ['250ms', 250],
    // Both together: spaces between the parts, fractions in any part.
    ['1h 30m', 5_400_000],
    ['5m 30s', 330_000],
    ['1h 0.5m', 3_630_000],
  ])('reads %j as %i ms', (text, ms) => {
    expect(tryParseDuration(text)).toBe(ms);
    expect(parseDuration(text)).toBe(ms);
    expect(new RegExp(DURATION_PATTERN).test(text)).toBe(true);
  });

  it.each([
    ['', 'empty'],
    ['   ', 'blank'],
    ['90', 'no unit'],
    ['5min', 'not a unit'],
    ['5 min', 'not a unit, spaced'],
    ['5M', 'a capital unit'],
    ['1m1h', 'units out of order'],
    ['1h1h', 'a unit twice'],
    ['5ms5s', 'ms before s'],
    ['m', 'a unit alone'],
    ['-5s', 'a negative'],
    ['+5s', 'a sign'],
    ['.5s', 'a fraction without its whole part'],
    ['1.s', 'a point without a fraction'],
    ['1,5s', 'a comma'],
    ['5s garbage', 'trailing words'],
    ['1h30', 'a number without its unit at the end'],
    ['99999999999999999d', 'too large to count in milliseconds'],
    [`${'1'.repeat(70)}ms`, 'longer than any duration'],
  ])('refuses %j (%s) with the accepted forms in the message', (text) => {
    expect(tryParseDuration(text)).toBeUndefined();
    expect(() => parseDuration(text)).toThrow(
      new RangeError(`invalid duration "${text}": write durations like 90s, 5m, 1h30m, 500ms or 1d`),
    );
  });

  it('is the grammar of world files too, which also take a number of ms', () => {
    expect(parseWorldDuration('1h30m')).toBe(5_400_000);
    expect(parseWorldDuration('1.5h')).toBe(5_400_000);
    expect(parseWorldDuration(1234.5)).toBe(1234.5);
    expect(parseWorldDuration('5m1h')).toBeUndefined();
    expect(parseWorldDuration(-1)).toBeUndefined();
  });
});

describe('formatting durations', () => {
  it.each([
    [0, '0s'],
    [500, '500ms'],
    [90_000, '1m30s'],
    [5_400_000, '1h30m'],
    [90_061_001, '1d1h1m1s1ms'],
    [1_499.6, '1s500ms'],
  ])('exactly: %i ms is %s, which reads back the same', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(Math.round(ms));
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('refuses to write %d ms exactly', (ms) => {
    expect(() => formatDuration(ms)).toThrow(RangeError);
  });

  it.each([
    [0, '0s'],
    [44_600, '45s'],
    [59_600, '1m'],
    [330_000, '5m 30s'],
    [3_600_000, '1h'],
    [7_200_000, '2h'],
    [93_900_000, '26h 5m'],
    [-5_000, '-5s'],
  ])('to the second: %i ms is %s, which reads back as a duration', (ms, text) => {
    expect(formatApproxDuration(ms)).toBe(text);
    if (ms >= 0) expect(tryParseDuration(text)).toBeDefined();
  });

  it.each([
    [0, '0.0s'],
    [1_234, '1.2s'],
    [59_940, '59.9s'],
    [59_960, '1m00s'],
    [307_000, '5m07s'],
    [4_500_000, '75m00s'],
    [-500, '-0.5s'],
  ])('on a run clock: %i ms is %s', (ms, text) => {
    expect(formatElapsed(ms)).toBe(text);
  });

  // Regression: the run clock split minutes before rounding the seconds, so 119.7 s read "1m60s".
  it('rounds once before splitting minutes and seconds: 119.7 s is 2m00s, not 1m60s', () => {
    expect(formatElapsed(119_700)).toBe('2m00s');
  });
});
