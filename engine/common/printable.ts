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

const HAS_CONTROL_BUT_LINES = /[^\n\t\P{Cc}]/u;

/** Whether any string in a JSON value (keys too) has a control character other than newline or tab. */
function hasControlDeep(value: unknown): boolean {
  if (typeof value === 'string') return HAS_CONTROL_BUT_LINES.test(value);
  if (Array.isArray(value)) return value.some(hasControlDeep);
  if (value !== null && typeof value === 'object') {
    for (const key in value) {
      if (HAS_CONTROL_BUT_LINES.test(key) || hasControlDeep((value as Record<string, unknown>)[key])) {
        return true;
      }
    }
  }
  return false;
}

/**
 * Every string in a JSON value (keys too) through stripControl. A value without any such character
 * (nearly every one) comes back as it is, without a copy: an agent strips every post it sends.
 */
export function stripControlDeep<T>(value: T): T {
  return hasControlDeep(value) ? copyStripped(value) : value;
}

function copyStripped<T>(value: T): T {
  if (typeof value === 'string') return stripControl(value) as T;
  if (Array.isArray(value)) return value.map(copyStripped) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [stripControl(k), copyStripped(v)])) as T;
  }
  return value;
}
