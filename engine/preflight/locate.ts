import { LineCounter, parseDocument } from 'yaml';
import type { Locate } from './evaluate.ts';
import { pathSegments } from './paths.ts';

/**
 * A `locate` for findings from the plan's YAML text: the 1-based line and column where the value
 * at a finding's path starts, or where its nearest existing parent starts. Parsed once, lazily.
 */
export function locatorForText(text: string): Locate {
  let parsed: { doc: ReturnType<typeof parseDocument>; lines: LineCounter } | undefined;
  return (path) => {
    if (parsed === undefined) {
      const lines = new LineCounter();
      parsed = { doc: parseDocument(text, { lineCounter: lines }), lines };
    }
    const segments = pathSegments(path);
    for (let n = segments.length; n > 0; n--) {
      const node: unknown = parsed.doc.getIn(segments.slice(0, n), true);
      const range = rangeOf(node);
      if (range !== undefined) {
        const { line, col } = parsed.lines.linePos(range);
        return { line, column: col };
      }
    }
    return undefined;
  };
}

function rangeOf(node: unknown): number | undefined {
  if (typeof node !== 'object' || node === null || !('range' in node)) return undefined;
  const range: unknown = node.range;
  return Array.isArray(range) && typeof range[0] === 'number' ? range[0] : undefined;
}
