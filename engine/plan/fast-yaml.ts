/**
 * A fast reader for the plain subset of YAML that plans are written in (block and single-line flow
 * collections, plain and quoted single-line scalars, comments). The `yaml` library needs about 2 s
 * for a 10,000-VM plan; this needs a tenth of that. It is only a fast path: on anything outside its
 * subset (anchors, tags, block scalars, multi-line scalars, duplicate keys, unusual numbers, tabs,
 * CR) it returns undefined and the caller parses with `yaml`, which also reports every error with
 * its position. The property test checks that whenever it answers, it answers exactly what `yaml`
 * does.
 */

import { Bail, BOOL, bail, KEY, NULL, plain, quoted } from './fast-yaml-scalars.ts';

interface Line {
  indent: number;
  /** Content after the indentation, comment stripped where it is safe to tell. */
  text: string;
}

/** Printable only: no tabs, no CR, no BOM, no C0/C1 controls, no Unicode line separators. */
function hasUnsafeChar(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 ? c !== 0x0a : (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029 || c === 0xfeff)
      return true;
  }
  return false;
}

/** The plain JS value of `text`, or undefined when the text is outside the fast subset. */
export function fastParseYaml(text: string): unknown {
  if (hasUnsafeChar(text)) return undefined;
  try {
    const lines = splitLines(text);
    if (lines.length === 0) return undefined;
    const reader = new BlockReader(lines);
    const first = lines[0]!;
    const value = reader.block(first.indent);
    if (reader.at < lines.length) return undefined;
    return value;
  } catch (error) {
    if (error instanceof Bail) return undefined;
    throw error;
  }
}

function splitLines(text: string): Line[] {
  const out: Line[] = [];
  for (const raw of text.split('\n')) {
    let indent = 0;
    while (raw.charCodeAt(indent) === 32) indent++;
    let body = raw.slice(indent);
    if (body === '' || body[0] === '#') continue;
    if (body.startsWith('---') || body.startsWith('...') || body[0] === '%') bail();
    // Comments: ' #' outside quotes. Quotes after the first are rare in plans; bail rather than guess.
    const hash = body.indexOf(' #');
    if (hash >= 0) {
      const before = body.slice(0, hash);
      if (before.includes('"') || before.includes("'")) {
        if (quoteEnd(before) < 0) bail();
      }
      body = before;
    }
    out.push({ indent, text: body.trimEnd() });
  }
  return out;
}

/** -1 when a quote opened in `text` is still open at its end. */
function quoteEnd(text: string): number {
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === '') {
      if (c === '"' || c === "'") quote = c;
    } else if (quote === '"' && c === '\\') i++;
    else if (c === quote) quote = '';
  }
  return quote === '' ? text.length : -1;
}

class BlockReader {
  at = 0;
  constructor(private readonly lines: Line[]) {}

  block(indent: number): unknown {
    const line = this.lines[this.at]!;
    if (line.indent !== indent) bail();
    return isSeqItem(line.text) ? this.sequence(indent) : this.mapping(indent);
  }

  private mapping(indent: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    while (this.at < this.lines.length) {
      const line = this.lines[this.at]!;
      if (line.indent < indent) break;
      if (line.indent > indent || isSeqItem(line.text)) bail();
      const colon = keyEnd(line.text);
      const key = line.text.slice(0, colon);
      if (
        !KEY.test(key) ||
        NULL.test(key) ||
        BOOL.test(key) ||
        key === '__proto__' ||
        Object.hasOwn(out, key)
      )
        bail();
      const rest = line.text.slice(colon + 1).trimStart();
      this.at++;
      out[key] = rest === '' ? this.nested(indent, true) : this.inline(rest, indent);
    }
    return out;
  }

  private sequence(indent: number): unknown[] {
    const out: unknown[] = [];
    while (this.at < this.lines.length) {
      const line = this.lines[this.at]!;
      if (line.indent < indent) break;
      if (line.indent > indent) bail();
      // A key at the same indentation ends a sequence nested under it ("vms:\n- a\nother: 1").
      if (!isSeqItem(line.text)) break;
      const rest = line.text.slice(1).trimStart();
      if (rest === '') {
        this.at++;
        out.push(this.nested(indent, false));
      } else if (isSeqItem(rest) || looksLikeKey(rest)) {
        // "- key: v" or "- - x": the item is a collection whose indentation is where `rest` starts.
        const inner = indent + (line.text.length - rest.length);
        this.lines[this.at] = { indent: inner, text: rest };
        out.push(this.block(inner));
      } else {
        this.at++;
        out.push(this.inline(rest, indent));
      }
    }
    return out;
  }

  /** The value of "key:" or "-" with nothing after it: a nested block, or null. */
  private nested(indent: number, inMapping: boolean): unknown {
    const next = this.lines[this.at];
    if (next === undefined) return null;
    if (next.indent > indent) return this.block(next.indent);
    // A sequence may sit at its key's own indentation ("vms:\n- name: x").
    if (inMapping && next.indent === indent && isSeqItem(next.text)) return this.sequence(indent);
    return null;
  }

  private inline(text: string, indent: number): unknown {
    const next = this.lines[this.at];
    // A more indented line after a scalar is a multi-line scalar (or an error): not our subset.
    if (next !== undefined && next.indent > indent) bail();
    const c = text[0];
    if (c === '[' || c === '{') {
      const reader = new FlowReader(text);
      const value = reader.value();
      if (reader.pos !== text.length) bail();
      return value;
    }
    if (c === '"' || c === "'") {
      const [value, end] = quoted(text, 0);
      if (end !== text.length) bail();
      return value;
    }
    return plain(text, false);
  }
}

function isSeqItem(text: string): boolean {
  return text[0] === '-' && (text.length === 1 || text[1] === ' ');
}

function keyEnd(text: string): number {
  const colon = text.indexOf(':');
  if (colon <= 0 || (colon + 1 < text.length && text[colon + 1] !== ' ')) bail();
  return colon;
}

function looksLikeKey(text: string): boolean {
  const colon = text.indexOf(':');
  if (colon <= 0) return false;
  return (colon + 1 === text.length || text[colon + 1] === ' ') && KEY.test(text.slice(0, colon));
}

class FlowReader {
  pos = 0;
  constructor(private readonly text: string) {}

  value(): unknown {
    this.space();
    const c = this.text[this.pos];
    if (c === '[') return this.list();
    if (c === '{') return this.map();
    if (c === '"' || c === "'") {
      const [value, end] = quoted(this.text, this.pos);
      this.pos = end;
      this.space();
      return value;
    }
    const start = this.pos;
    // Up to ',' ']' '}' or the end of the text.
    const end = this.text.length;
    for (let c = this.text.charCodeAt(this.pos); this.pos < end && c !== 44 && c !== 93 && c !== 125; ) {
      c = this.text.charCodeAt(++this.pos);
    }
    return plain(this.text.slice(start, this.pos).trimEnd(), true);
  }

  private list(): unknown[] {
    const out: unknown[] = [];
    this.pos++;
    this.space();
    if (this.eat(']')) return out;
    for (;;) {
      out.push(this.value());
      if (this.eat(']')) return out;
      if (!this.eat(',')) bail();
      this.space();
      if (this.text[this.pos] === ']') bail(); // trailing comma: leave it to yaml
    }
  }

  private map(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.pos++;
    this.space();
    if (this.eat('}')) return out;
    for (;;) {
      this.space();
      const colon = this.text.indexOf(': ', this.pos);
      if (colon < 0) bail();
      const key = this.text.slice(this.pos, colon);
      if (
        !KEY.test(key) ||
        NULL.test(key) ||
        BOOL.test(key) ||
        key === '__proto__' ||
        Object.hasOwn(out, key)
      )
        bail();
      this.pos = colon + 2;
      out[key] = this.value();
      if (this.eat('}')) return out;
      if (!this.eat(',')) bail();
      this.space();
      if (this.text[this.pos] === '}') bail();
    }
  }

  private eat(c: string): boolean {
    if (this.text[this.pos] !== c) return false;
    this.pos++;
    this.space();
    return true;
  }

  private space(): void {
    while (this.text[this.pos] === ' ') this.pos++;
  }
}
