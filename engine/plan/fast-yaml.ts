/**
 * The fast path of plan loading: js-yaml (CORE schema) reads the text, and whatever js-yaml and the
 * `yaml` library might read differently is left to `yaml` (parse.ts), which also reports every
 * error with its position. `yaml` needs about 2 s for a 10,000-VM plan because it builds a full
 * document; js-yaml builds plain data from a flat event stream.
 *
 * Both read YAML 1.2 with the core schema (so `yes`/`no`/`on`/`off`, `0777`, `1:30` and timestamps
 * are the same strings or numbers in both, and `<<` is a plain key), but they differ at the edges.
 * These go to `yaml`, most of them found by a look over js-yaml's events before any value is built:
 * - directives (`%YAML 1.1` switches `yaml` to the 1.1 schema, `%TAG` renames tags; js-yaml skips
 *   unknown ones), found by a look at the text: any line that starts with `%`, indented or not;
 * - tags, anchors and aliases (tag resolution differs; an alias bomb is `yaml`'s to refuse);
 * - a key that is a collection, a plain key that reads as null (`yaml` makes it "", js-yaml
 *   "null") and a key longer than `yaml` accepts on one line;
 * - more or fewer than one document, and numbers too large for a double (js-yaml keeps the text,
 *   `yaml` gives Infinity).
 * - tabs (js-yaml accepts some where `yaml` refuses tabs as indentation) and a CR without LF;
 * - a document marker (--- or ...) that is indented, which js-yaml reads as a marker, `yaml` as text.
 * Duplicate keys and anything malformed make js-yaml throw, which is the same answer: ask `yaml`.
 * The property test checks that whenever this answers, it answers exactly what `yaml` does.
 */

import {
  CORE_SCHEMA,
  constructFromEvents,
  defineScalarTag,
  EVENT_ID,
  type Event,
  NOT_RESOLVED,
  parseEvents,
  SCALAR_STYLE,
} from 'js-yaml';

/** Thrown to leave the fast path; fastParseYaml turns it into `undefined`. */
class Bail extends Error {}

/** The numbers of the core schema (js-yaml's and `yaml`'s int and float forms). */
const CORE_NUMBER = /^(?:0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)$/;

/**
 * Tried after js-yaml's int and float: a plain scalar in a number's form that they left as a string
 * overflowed a double. `yaml` reads it as Infinity; rather than imitate that, leave it to `yaml`.
 */
const overflowTag = defineScalarTag('tag:drorch.dev,2026:number-overflow', {
  implicit: true,
  implicitFirstChars: ['-', '+', '.', ...'0123456789'],
  resolve: (source) => {
    if (CORE_NUMBER.test(source)) throw new Bail();
    return NOT_RESOLVED;
  },
  identify: () => false,
});

const SCHEMA = CORE_SCHEMA.withTags(overflowTag);

/** `yaml`'s limit on an implicit key (KEY_OVER_1024_CHARS), with room for quotes. */
const MAX_KEY_SOURCE = 1000;
const LONE_CR = /\r(?!\n)/;
const LINE_STARTS_WITH_PERCENT = /^[ \t]*%/m;
const INDENTED_MARKER = /^[ \t]+(?:---|\.\.\.)(?:[ \t\r]|$)/m;
const NULL_WORD = /^(?:~|[Nn]ull|NULL)$/;

/** The plain JS value of `text`, or undefined when `yaml` should read it. */
export function fastParseYaml(text: string): unknown {
  // js-yaml lists the directives it knows and skips the others; yaml warns about those: a line that
  // starts with % (a directive, or text that a human meant otherwise) goes to yaml either way. An
  // indented one too: js-yaml skips the spaces before a directive, yaml refuses the % (soak seed
  // -1605678935: " %Y AML 1.2" then "---" was one document to js-yaml, an error to yaml).
  if (text.includes('%') && LINE_STARTS_WITH_PERCENT.test(text)) return undefined;
  // Where a tab may stand differs between the two (js-yaml takes some as indentation): no tabs here.
  if (text.includes('\t')) return undefined;
  // CRLF reads the same in both; a CR alone ends a line for js-yaml, not for yaml.
  if (text.includes('\r') && LONE_CR.test(text)) return undefined;
  // js-yaml takes an indented --- or ... for a document marker; yaml (and the spec) for text.
  if ((text.includes('---') || text.includes('...')) && INDENTED_MARKER.test(text)) return undefined;
  try {
    const events = parseEvents(text, {});
    if (!agreeable(events, text)) return undefined;
    const documents = constructFromEvents(events, { source: text, schema: SCHEMA, maxAliases: 0 });
    return documents.length === 1 ? documents[0] : undefined;
  } catch {
    // A YAMLException (malformed, duplicate key, too deep), a Bail, or anything else js-yaml throws:
    // in every case the located parse reads the text and says what is wrong.
    return undefined;
  }
}

/** Frame of a collection being read: mappings alternate key, value, key... */
interface Frame {
  mapping: boolean;
  items: number;
}

/** False when the events hold anything js-yaml and `yaml` might turn into different data. */
function agreeable(events: readonly Event[], text: string): boolean {
  const stack: Frame[] = [];
  let documents = 0;
  for (const event of events) {
    if (event.type === EVENT_ID.POP) {
      stack.pop();
      continue;
    }
    if (event.type === EVENT_ID.DOCUMENT) {
      documents++;
      if (documents > 1 || event.directives.length > 0) return false;
      stack.push({ mapping: false, items: 0 });
      continue;
    }
    if (event.type === EVENT_ID.ALIAS) return false;
    if (event.anchorStart !== -1 || event.tagStart !== -1) return false;
    const parent = stack[stack.length - 1];
    const isKey = parent?.mapping === true && parent.items % 2 === 0;
    if (parent !== undefined) parent.items++;
    if (event.type === EVENT_ID.SCALAR) {
      if (isKey && !agreeableKey(event.style, event.valueStart, event.valueEnd, text)) return false;
    } else {
      if (isKey) return false;
      stack.push({ mapping: event.type === EVENT_ID.MAPPING, items: 0 });
    }
  }
  return documents === 1;
}

function agreeableKey(style: number, start: number, end: number, text: string): boolean {
  if (end - start > MAX_KEY_SOURCE) return false;
  if (style !== SCALAR_STYLE.PLAIN) return true;
  return start !== -1 && !NULL_WORD.test(text.slice(start, end));
}
