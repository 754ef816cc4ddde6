import { type Document, isAlias, isMap, isPair, isScalar, isSeq, type Node, parseDocument } from 'yaml';

/** A path into the YAML as zod and the checks report it: keys and array indices. */
export type YamlPath = readonly PropertyKey[];

export interface Position {
  line: number;
  column: number;
}

/** `spec.vms[3].dependsOn[0]`: the form a DR admin can find in the file. */
export function formatPath(path: YamlPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** The options every YAML parse in engine/plan uses, so the fast and the located parse agree. */
export const YAML_OPTIONS = { uniqueKeys: true, prettyErrors: false, maxAliasCount: 100 } as const;

/**
 * Turns YAML paths into 1-based line:column. The positions-keeping parse (Document + LineCounter)
 * is built lazily: the happy path of parsePlan never needs it, so a valid 10,000-VM plan is parsed
 * once, without node ranges.
 */
export class Locator {
  private doc: Document | undefined;
  private lineStarts: number[] | undefined;

  constructor(private readonly text: string) {}

  /** Where the value at `path` starts, or its key when `on` is 'key' (unknown keys, duplicates). */
  locate(path: YamlPath, on: 'value' | 'key' = 'value'): Position {
    const doc = this.document();
    let node: unknown = doc.contents;
    let best: [number, number] | undefined = rangeOf(node);
    for (let i = 0; i < path.length; i++) {
      const segment = path[i];
      if (isAlias(node)) node = node.resolve(doc);
      let next: unknown;
      if (isMap(node)) {
        const pair = node.items.find((item) => isPair(item) && keyText(item.key) === String(segment));
        if (pair === undefined) break;
        if (i === path.length - 1 && on === 'key') {
          best = rangeOf(pair.key) ?? best;
          break;
        }
        next = pair.value ?? pair.key;
      } else if (isSeq(node) && typeof segment === 'number') {
        next = node.items[segment];
      } else {
        break;
      }
      if (next === undefined || next === null) break;
      node = next;
      best = rangeOf(node) ?? best;
    }
    return this.position(best?.[0] ?? 0);
  }

  /**
   * 1-based line:column of a character offset, clamped into the document: the yaml library can
   * report an offset past a line's end, and a position must always point at the file.
   */
  position(offset: number): Position {
    const starts = this.starts();
    const clamped = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= clamped) lo = mid;
      else hi = mid - 1;
    }
    const start = starts[lo]!;
    const end = lo + 1 < starts.length ? starts[lo + 1]! - 1 : this.text.length;
    return { line: lo + 1, column: Math.min(clamped, end) - start + 1 };
  }

  /** The positions-keeping parse, made on first use. */
  document(): Document {
    this.doc ??= parseDocument(this.text, YAML_OPTIONS);
    return this.doc;
  }

  private starts(): number[] {
    if (this.lineStarts === undefined) {
      const starts = [0];
      for (let at = this.text.indexOf('\n'); at !== -1; at = this.text.indexOf('\n', at + 1))
        starts.push(at + 1);
      this.lineStarts = starts;
    }
    return this.lineStarts;
  }
}

function rangeOf(node: unknown): [number, number] | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range === undefined || range === null ? undefined : [range[0], range[1]];
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}
