import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';

/**
 * 1-based line:column of the YAML node at a path (or of its nearest existing parent), so a world
 * file's errors point at the place to fix. (engine/plan has its own Locator; merge when it exports one.)
 */
export function locator(
  text: string,
): (path: readonly PropertyKey[], on?: 'value' | 'key') => { line: number; column: number } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  return (path, on = 'value') => {
    let node: unknown = doc.contents;
    let offset = rangeStart(node) ?? 0;
    for (const [i, segment] of path.entries()) {
      let next: unknown;
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment),
        );
        next = on === 'key' && i === path.length - 1 ? pair?.key : (pair?.value ?? pair?.key);
      } else if (isSeq(node) && typeof segment === 'number') {
        next = node.items[segment];
      }
      if (next === undefined || next === null) break;
      node = next;
      offset = rangeStart(node) ?? offset;
    }
    const { line, col } = lines.linePos(offset);
    return { line: Math.max(1, line), column: Math.max(1, col) };
  };
}

function rangeStart(node: unknown): number | undefined {
  return (node as Node | null | undefined)?.range?.[0];
}
