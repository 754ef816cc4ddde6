/**
 * Scalars and shared pieces of the fast YAML reader (fast-yaml.ts): the core-schema resolution of
 * plain scalars, and single-line quoted scalars. Anything not certain to read exactly as the
 * `yaml` library reads it bails out.
 */

/** Thrown to leave the fast path; fastParseYaml turns it into `undefined`. */
export class Bail extends Error {}

export const bail = (): never => {
  throw new Bail();
};

export const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
export const NULL = /^(?:~|[Nn]ull|NULL)$/;
export const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT = /^-?(?:0|[1-9][0-9]{0,14})$/;
const FLOAT = /^-?(?:0|[1-9][0-9]{0,14})\.[0-9]{1,15}$/;
/** Anything the core schema might read as a number (or inf/nan) that INT/FLOAT do not cover. */
const NUMBERISH =
  /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;

/** A single-line quoted scalar starting at `start`: its value and the index after it. */
export function quoted(text: string, start: number): [string, number] {
  const q = text[start]!;
  let i = start + 1;
  if (q === "'") {
    let out = '';
    for (;;) {
      const end = text.indexOf("'", i);
      if (end < 0) bail();
      out += text.slice(i, end);
      if (text[end + 1] === "'") {
        out += "'";
        i = end + 2;
      } else {
        return [out, end + 1];
      }
    }
  }
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      // Only the escapes YAML and JSON share, so JSON.parse decodes them exactly.
      if (!/^(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/.test(text.slice(i + 1, i + 6))) bail();
      i++;
    } else if (c === '"') {
      return [JSON.parse(text.slice(start, i + 1)) as string, i + 1];
    }
  }
  return bail();
}

/**
 * Most plan scalars are names and durations ("sql-001", "drill-net", "90s"): strings under any
 * schema, recognised with one test. Words that could be null or booleans (n/N, t/T, f/F, ~) and
 * anything else take the careful path below.
 */
const PLAIN_NAME =
  /^(?:[a-eg-mo-su-zABCDEGHIJKLMOPQRSUVWXYZ_][A-Za-z0-9_./-]*|[0-9]+(?:ms|[dhms])(?:[0-9]+(?:ms|[dhms]))*)$/;

export function plain(text: string, flow: boolean): unknown {
  if (PLAIN_NAME.test(text)) return text;
  if (text === '') return flow ? bail() : null;
  if (/^[-?:,[\]{}#&*!|>'"%@`]/.test(text) && !/^-[^\s-]/.test(text)) bail();
  if (text.includes(': ') || text.endsWith(':') || text.includes(' #')) bail();
  if (flow && /[[\]{}:#]/.test(text)) bail();
  if (NULL.test(text)) return null;
  if (BOOL.test(text)) return text[0] === 't' || text[0] === 'T';
  if (INT.test(text)) return Number(text);
  if (FLOAT.test(text)) return Number.parseFloat(text);
  if (NUMBERISH.test(text)) bail();
  return text;
}
