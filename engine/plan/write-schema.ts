import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { planJsonSchemaText } from './json-schema.ts';

/** `npm run schema`: regenerates plans/schema/recovery-plan.schema.json from the zod schema. */
const target = fileURLToPath(new URL('../../plans/schema/recovery-plan.schema.json', import.meta.url));
await writeFile(target, planJsonSchemaText());
process.stdout.write(`wrote ${target}\n`);
