import { z } from 'zod';
import { DURATION_HINT } from '../common/index.ts';
import type { YamlPath } from './positions.ts';
import { error, type RawIssue } from './raw-issue.ts';
import { NAME_HINT, planSchema } from './schema.ts';
import { didYouMean } from './suggest.ts';

/**
 * zod's issues in the words of a plan author: "unknown key" with a suggestion, "missing key",
 * the accepted values of an enum, the duration syntax. The message never says "zod".
 */
export function fromZodIssues(issues: readonly z.core.$ZodIssue[], data: unknown): RawIssue[] {
  const out: RawIssue[] = [];
  for (const issue of issues) {
    const path = issue.path;
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = knownKeys(path);
        for (const key of issue.keys) {
          const hint =
            didYouMean(key, known) ?? (known.length > 0 ? `expected one of ${known.join(', ')}` : undefined);
          out.push({ ...error('unknown-key', `unknown key "${key}"`, [...path, key], hint), on: 'key' });
        }
        break;
      }
      case 'invalid_type': {
        if (valueAt(data, path) === undefined && path.length > 0) {
          out.push(missingKey(path));
        } else {
          out.push(
            error(
              'invalid-type',
              `expected ${issue.expected}, got ${describe(valueAt(data, path))}`,
              path,
              describeSchema(path),
            ),
          );
        }
        break;
      }
      case 'invalid_value': {
        const values = issue.values.map((value) => String(value));
        const got = valueAt(data, path);
        if (got === undefined && path.length > 0) {
          out.push(missingKey(path));
          break;
        }
        out.push(
          error(
            'invalid-value',
            `invalid value ${describe(got)}; expected ${values.map((v) => `"${v}"`).join(' | ')}`,
            path,
            typeof got === 'string' ? didYouMean(got, values) : undefined,
          ),
        );
        break;
      }
      case 'invalid_union': {
        // When the value has the shape of one alternative (a mapping where a name or a mapping is
        // allowed), that alternative's own issues say more than "invalid value".
        const matching = (issue.errors ?? []).filter(
          (branch) =>
            branch.length > 0 &&
            !branch.some(
              (i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value'),
            ),
        );
        if (matching[0] !== undefined) {
          out.push(
            ...fromZodIssues(
              matching[0].map((i) => ({ ...i, path: [...path, ...i.path] })),
              data,
            ),
          );
          break;
        }
        const described = schemaAt(path)
          .map((schema) => unwrapOptional(schema).description)
          .find((text) => text !== undefined);
        out.push(
          error(
            'invalid-value',
            `invalid value ${describe(valueAt(data, path))}${described ? `; expected ${described}` : ''}`,
            path,
          ),
        );
        break;
      }
      default: {
        const base = issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
        const value = valueAt(data, path);
        const message =
          typeof value === 'string' || typeof value === 'number' ? `${base}: ${describe(value)}` : base;
        const duration = /duration/.test(base);
        const hint = duration
          ? DURATION_HINT
          : path[path.length - 1] === 'script'
            ? `a script is a name from the script catalog, never a file path; ${NAME_HINT}`
            : / name$/.test(base)
              ? NAME_HINT
              : undefined;
        out.push(error(duration ? 'invalid-duration' : 'invalid-value', message, path, hint));
      }
    }
  }
  // A value can fail two rules that say the same thing (a duration's pattern and its range).
  const seen = new Set<string>();
  return out.filter((issue) => {
    const key = `${issue.path.map(String).join('.')}|${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function missingKey(path: YamlPath): RawIssue {
  const key = String(path[path.length - 1]);
  const what = describeSchema(path);
  return error(
    'missing-key',
    `missing required key "${key}"`,
    path.slice(0, -1),
    `add "${key}:"${what === undefined ? '' : `: ${what}`}`,
  );
}

/** The schema's own description of what belongs at a path ("boot estimate, e.g. 90s, 5m"). */
function describeSchema(path: YamlPath): string | undefined {
  for (const schema of schemaAt(path)) {
    const texts = [unwrapOptional(schema).description, schema.description].filter((t) => t !== undefined);
    if (texts.length > 0) return [...new Set(texts)].join('; ');
  }
  return undefined;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function valueAt(data: unknown, path: YamlPath): unknown {
  let at: unknown = data;
  for (const segment of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<PropertyKey, unknown>)[segment];
  }
  return at;
}

/** The schema(s) that describe the value at a path; several where a union allows several shapes. */
function schemaAt(path: YamlPath): z.ZodType[] {
  let current: z.ZodType[] = [planSchema];
  for (const segment of path) {
    const next: z.ZodType[] = [];
    for (const schema of current.flatMap(unwrap)) {
      if (schema instanceof z.ZodObject && typeof segment === 'string') {
        const field = (schema.shape as Record<string, z.ZodType | undefined>)[segment];
        if (field !== undefined) next.push(field);
      } else if (schema instanceof z.ZodArray && typeof segment === 'number') {
        next.push(schema.element as z.ZodType);
      } else if (schema instanceof z.ZodRecord) {
        next.push(schema.valueType as z.ZodType);
      }
    }
    current = next;
  }
  return current;
}

function unwrapOptional(schema: z.ZodType): z.ZodType {
  return schema instanceof z.ZodOptional ? unwrapOptional(schema.unwrap() as z.ZodType) : schema;
}

function unwrap(schema: z.ZodType): z.ZodType[] {
  if (schema instanceof z.ZodOptional) return unwrap(schema.unwrap() as z.ZodType);
  if (schema instanceof z.ZodUnion) return (schema.options as z.ZodType[]).flatMap(unwrap);
  return [schema];
}

function knownKeys(path: YamlPath): string[] {
  const keys = new Set<string>();
  for (const schema of schemaAt(path).flatMap(unwrap)) {
    if (schema instanceof z.ZodObject) for (const key of Object.keys(schema.shape)) keys.add(key);
  }
  return [...keys];
}
