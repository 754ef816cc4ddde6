import { z } from 'zod';
import { planSchema } from './schema.ts';

/**
 * The formats JSON Schema draft-07 defines. zod names some checks with formats of its own
 * (`z.string().startsWith('/')` becomes `format: "starts_with"` next to its `pattern`); a strict
 * validator (ajv) refuses an unknown format, and the pattern already says it, so those are dropped.
 */
const DRAFT_07_FORMATS = new Set([
  'date-time',
  'date',
  'time',
  'email',
  'idn-email',
  'hostname',
  'idn-hostname',
  'ipv4',
  'ipv6',
  'uri',
  'uri-reference',
  'iri',
  'iri-reference',
  'uri-template',
  'json-pointer',
  'relative-json-pointer',
  'regex',
]);

/**
 * The editor's JSON Schema (draft-07, what yaml-language-server reads best), generated from the same zod schema that validates
 * plans, so the two cannot drift; test/unit/plan/schema-file.test.ts fails when the committed file
 * is stale. `io: 'input'` describes the YAML as written (optional keys, shorthand forms).
 */
export function planJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(planSchema, {
    io: 'input',
    target: 'draft-07',
    unrepresentable: 'any',
    override: ({ jsonSchema }) => {
      if (typeof jsonSchema.format === 'string' && !DRAFT_07_FORMATS.has(jsonSchema.format))
        delete jsonSchema.format;
    },
  }) as Record<string, unknown>;
  return {
    ...schema,
    title: 'Recovery plan (dr/v1)',
  };
}

/** The exact text of plans/schema/recovery-plan.schema.json. */
export function planJsonSchemaText(): string {
  return `${JSON.stringify(planJsonSchema(), null, 2)}\n`;
}
