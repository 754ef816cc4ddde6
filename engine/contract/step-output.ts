/**
 * A step's output as an agent reports it: what handlers put there (a VM's state, a fence's epoch,
 * a script's or webhook's last 8 KiB) is small, flat metadata, so the schema bounds it (each
 * string, each object's keys, each array, the nesting and the whole) and a bad agent cannot store
 * a blob in the vault through it. Only JSON values pass: strings without control characters but
 * newlines and tabs, finite numbers, booleans, null, arrays and plain objects.
 */
import { z } from 'zod';
import { NO_CONTROL, NO_CONTROL_BUT_LINES } from '../common/index.ts';

export const STEP_OUTPUT_LIMITS = {
  /** Characters of one string (a script's stdout tail is 8 KiB). */
  stringChars: 16_384,
  /** Characters of one key. */
  keyChars: 200,
  /** Keys of one object. */
  keys: 64,
  /** Items of one array. */
  items: 256,
  /** Levels of objects and arrays, the output itself the first. */
  depth: 5,
  /** Characters of the whole output as JSON. */
  totalChars: 65_536,
} as const;

type Issue = { path: (string | number)[]; message: string };

/** The first way `value` (at `depth`, under `path`) passes a limit or is no JSON value. */
function check(value: unknown, depth: number, path: (string | number)[]): Issue | undefined {
  const L = STEP_OUTPUT_LIMITS;
  if (value === null || typeof value === 'boolean') return undefined;
  if (typeof value === 'number')
    return Number.isFinite(value) ? undefined : { path, message: 'a number must be finite' };
  if (typeof value === 'string') {
    if (value.length > L.stringChars)
      return { path, message: `a string of ${value.length} characters, more than ${L.stringChars}` };
    return NO_CONTROL_BUT_LINES.test(value)
      ? undefined
      : { path, message: 'contains control characters other than newlines and tabs' };
  }
  if (typeof value !== 'object') return { path, message: `a ${typeof value} is no JSON value` };
  if (depth > L.depth) return { path, message: `nested deeper than ${L.depth} levels` };
  if (Array.isArray(value)) {
    if (value.length > L.items) return { path, message: `${value.length} items, more than ${L.items}` };
    for (const [i, item] of value.entries()) {
      const issue = check(item, depth + 1, [...path, i]);
      if (issue !== undefined) return issue;
    }
    return undefined;
  }
  const entries = Object.entries(value);
  if (entries.length > L.keys) return { path, message: `${entries.length} keys, more than ${L.keys}` };
  for (const [key, item] of entries) {
    if (key.length > L.keyChars || !NO_CONTROL.test(key))
      return {
        path: [...path, key],
        message: `a key of at most ${L.keyChars} characters without control characters`,
      };
    const issue = check(item, depth + 1, [...path, key]);
    if (issue !== undefined) return issue;
  }
  return undefined;
}

export const stepOutputSchema = z
  .record(z.string(), z.unknown())
  .superRefine((output, ctx) => {
    const issue = check(output, 1, []);
    if (issue !== undefined) {
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
      return;
    }
    const size = JSON.stringify(output).length;
    if (size > STEP_OUTPUT_LIMITS.totalChars)
      ctx.addIssue({
        code: 'custom',
        message: `an output of ${size} characters as JSON, more than ${STEP_OUTPUT_LIMITS.totalChars}`,
      });
  })
  .meta({
    description: `A step's output: JSON metadata, strings ≤ ${STEP_OUTPUT_LIMITS.stringChars} characters, ≤ ${STEP_OUTPUT_LIMITS.keys} keys an object, ≤ ${STEP_OUTPUT_LIMITS.items} items an array, ≤ ${STEP_OUTPUT_LIMITS.depth} levels, ≤ ${STEP_OUTPUT_LIMITS.totalChars} characters in all`,
  });
