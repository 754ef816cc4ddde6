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
    return this.position(this.find(path, on).offset);
  }

  /**
   * The start of the node at `path`, or of its nearest existing parent (the document's start when
   * none), and how many of the path's segments were found.
   */
  find(path: YamlPath, on: 'value' | 'key' = 'value'): { offset: number; depth: number } {
    const doc = this.document();
    let node: unknown = doc.contents;
    let best: [number, number] | undefined = rangeOf(node);
    let depth = 0;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i];
      if (isAlias(node)) node = node.resolve(doc);
      let next: unknown;
      if (isMap(node)) {
        const pair = node.items.find((item) => isPair(item) && keyText(item.key) === String(segment));
        if (pair === undefined) break;
        if (i === path.length - 1 && on === 'key') {
          best = rangeOf(pair.key) ?? best;
          depth = path.length;
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
      depth = i + 1;
    }
    return { offset: best?.[0] ?? 0, depth };
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

/** `spec.vms[3].dependsOn[0]` → `['spec', 'vms', 3, 'dependsOn', 0]`: the inverse of formatPath. */
export function parsePath(path: string): PropertyKey[] {
  const out: PropertyKey[] = [];
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (match[2] !== undefined) out.push(Number(match[2]));
    else if (match[1] !== undefined) out.push(match[1]);
  }
  return out;
}

/** Where a YAML path is in a text: see createPathLocator. */
export type PathLocator = (path: string | YamlPath, on?: 'value' | 'key') => Position | undefined;

/**
 * For callers outside engine/plan holding a plan's (or another YAML file's) text: the 1-based
 * line:column where the value at a path starts (its key with `on: 'key'`), or where its nearest
 * existing parent starts; `undefined` when not even the path's first segment is in the document.
 * The empty path is the document itself. Paths are written as issues print them
 * (`spec.vms[3].network.test`) or as segments. The text is parsed once, on the first call, with
 * the positions code parsePlan uses.
 */
export function createPathLocator(text: string): PathLocator {
  const locator = new Locator(text);
  return (path, on = 'value') => {
    const segments = typeof path === 'string' ? parsePath(path) : path;
    const { offset, depth } = locator.find(segments, on);
    return segments.length > 0 && depth === 0 ? undefined : locator.position(offset);
  };
}

function rangeOf(node: unknown): [number, number] | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range === undefined || range === null ? undefined : [range[0], range[1]];
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}
