import { z } from 'zod';
import { planSchema } from './schema.ts';

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
