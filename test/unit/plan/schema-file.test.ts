import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DURATION_PATTERN } from '../../../engine/common/index.ts';
import { planJsonSchema, planJsonSchemaText } from '../../../engine/plan/index.ts';

describe('plans/schema/recovery-plan.schema.json', () => {
  it('is what `npm run schema` generates from the zod schema (run it when this fails)', () => {
    expect(readFileSync('plans/schema/recovery-plan.schema.json', 'utf8')).toBe(planJsonSchemaText());
  });

  it('closes objects and carries the duration and name patterns, so editors flag typos', () => {
    const text = JSON.stringify(planJsonSchema());
    expect(text).toContain('"additionalProperties":false');
    expect(text).toContain(JSON.stringify(DURATION_PATTERN));
    expect(text).toContain('^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$');
  });

  it('is referenced by every example plan', () => {
    for (const name of ['three-tier', 'sharepoint-farm', 'estate-200']) {
      const text = readFileSync(`plans/examples/${name}.yaml`, 'utf8');
      expect(text.startsWith('#')).toBe(true);
      expect(text).toContain('# yaml-language-server: $schema=../schema/recovery-plan.schema.json');
    }
  });
});
