/**
 * Control characters (Unicode Cc: ESC, CR, BEL ...) in text that reaches an operator's terminal
 * can rewrite what it shows. The agents' messages refuse them (contract/agent-protocol.ts); the
 * CLI strips them from text a server sent; an agent strips them from what it is about to post.
 */

/** No control character at all: names, ids, codes. */
export const NO_CONTROL = /^[^\p{Cc}]*$/u;
/** Free text: newlines and tabs only. */
export const NO_CONTROL_BUT_LINES = /^[\n\t\P{Cc}]*$/u;

const CONTROL_BUT_LINES = /[^\n\t\P{Cc}]/gu;

/** `text` without its control characters, except newlines and tabs. */
export function stripControl(text: string): string {
  return text.replace(CONTROL_BUT_LINES, '');
}

/** Every string in a JSON value (keys too) through stripControl. */
export function stripControlDeep<T>(value: T): T {
  if (typeof value === 'string') return stripControl(value) as T;
  if (Array.isArray(value)) return value.map(stripControlDeep) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [stripControl(k), stripControlDeep(v)]),
    ) as T;
  }
  return value;
}
