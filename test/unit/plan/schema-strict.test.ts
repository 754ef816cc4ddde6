/**
 * The editor schemas compile in a strict validator: ajv in strict mode refuses unknown keywords
 * and unknown formats (zod once emitted `format: "starts_with"` next to a `pattern`, which editors
 * and ajv reject). Union types (`type: ["string", "number"]`) are standard JSON Schema: allowed.
 * The shipped examples validate against them, so the schemas are neither broken nor too tight.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Ajv, type AnySchema } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// ajv-formats is CommonJS: ESM's default import is its module.exports, the plugin under `default`.
const addFormats = addFormatsModule.default;

function strictValidator(file: string) {
  const schema = JSON.parse(readFileSync(file, 'utf8')) as AnySchema & { $schema?: string };
  const options = { strict: true, allowUnionTypes: true, allErrors: true } as const;
  const ajv = String(schema.$schema).includes('2020-12') ? new Ajv2020(options) : new Ajv(options);
  addFormats(ajv);
  return ajv.compile(schema);
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.yaml'))
    .map((name) => `${dir}/${name}`);
}

describe('the editor schemas in ajv strict mode', () => {
  it('plans/schema/recovery-plan.schema.json compiles, and every example plan conforms', () => {
    const validate = strictValidator('plans/schema/recovery-plan.schema.json');
    for (const file of yamlFiles('plans/examples')) {
      const ok = validate(parse(readFileSync(file, 'utf8')));
      expect({ file, errors: ok ? null : validate.errors }).toEqual({ file, errors: null });
    }
  });

  it('plans/worlds/sim-world.schema.json compiles, and every example world conforms', () => {
    const validate = strictValidator('plans/worlds/sim-world.schema.json');
    for (const file of yamlFiles('plans/worlds')) {
      const ok = validate(parse(readFileSync(file, 'utf8')));
      expect({ file, errors: ok ? null : validate.errors }).toEqual({ file, errors: null });
    }
  });

  it('carries no format a draft-07 validator does not know (the generator drops zod-only ones)', () => {
    const text = readFileSync('plans/schema/recovery-plan.schema.json', 'utf8');
    expect(text).not.toContain('starts_with');
  });
});
