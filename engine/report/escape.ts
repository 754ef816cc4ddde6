const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text as HTML text or attribute value (event content comes from agents, scripts and operators). */
export function escapeHtml(value: unknown): string {
  const text = String(value);
  // Most text has nothing to escape: no new string then (a 10,000-VM timeline is 140,000 lines).
  return SPECIAL.test(text) ? text.replace(SPECIALS, (c) => ESCAPES[c] ?? c) : text;
}

const SPECIAL = /[&<>"']/;
const SPECIALS = /[&<>"']/g;
