import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDocument, stringify } from 'yaml';
import { fastParseYaml } from '../../engine/plan/fast-yaml.ts';
import { compilePlan, generatePlan, type PlanIssue, parsePlanWithStage } from '../../engine/plan/index.ts';

/**
 * Random and mutated YAML never yields anything but a typed plan error or a valid plan; most cases
 * are mutations of valid plans that get as far as the semantic checks; every position lies inside
 * the document; and the fast YAML path agrees with the yaml library whenever it answers.
 * `npm run soak` runs 100,000 cases; CI runs 1,000 (the yaml library's located parse of each
 * failing case dominates: about 15 ms apiece on the 2-core CI machine).
 */
const RUNS = Number(process.env.PLAN_PROPERTY_RUNS) || (process.env.SOAK ? 100_000 : 1_000);
/**
 * Time for the cases of one property: at least 180 s (1,000 cases on a loaded runner), and 30 ms a
 * case beyond that, so the soak's 100,000 cases are not cut off by a timeout (they took ~350 s on a
 * quiet machine, 1,370 s at a load average of 15 on 2 cores).
 */
const CASE_BUDGET_MS = Math.max(180_000, RUNS * 30);

type Json = Record<string, unknown>;
interface Mutation {
  kind: string;
  i: number;
  j: number;
  text: string;
}

const MUTATIONS = [
  'none',
  'unknown-dependency',
  'near-miss-dependency',
  'cycle',
  'duplicate-vm',
  'same-site',
  'bad-duration',
  'typo-key',
  'drop-key',
  'wrong-type',
  'group-order',
  'action-anchor',
  'short-auto-failover',
  'random-value',
] as const;

/** Mutations that keep the schema valid come five times as often: they exercise the semantic checks. */
const SCHEMA_BREAKING = new Set(['bad-duration', 'typo-key', 'drop-key', 'wrong-type', 'random-value']);
const mutation = fc.record({
  kind: fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...MUTATIONS.filter((kind) => !SCHEMA_BREAKING.has(kind))) },
    { weight: 1, arbitrary: fc.constantFrom(...MUTATIONS.filter((kind) => SCHEMA_BREAKING.has(kind))) },
  ),
  i: fc.nat(),
  j: fc.nat(),
  text: fc.string({ maxLength: 12 }),
});

const basePlan = fc.record({
  vms: fc.integer({ min: 2, max: 12 }),
  depth: fc.integer({ min: 1, max: 5 }),
  seed: fc.nat(),
});

function vmsOf(plan: Json): Json[] {
  return ((plan.spec as Json).vms as Json[]) ?? [];
}

function mutate(plan: Json, m: Mutation): void {
  const spec = plan.spec as Json;
  const vms = vmsOf(plan);
  const vm = vms[m.i % vms.length]!;
  const other = vms[m.j % vms.length]!;
  switch (m.kind) {
    case 'unknown-dependency':
      vm.dependsOn = [...((vm.dependsOn as string[]) ?? []), `ghost-${m.j % 100}`];
      break;
    case 'near-miss-dependency':
      vm.dependsOn = [`${String(other.name).slice(0, -1)}x`];
      break;
    case 'cycle':
      // other depends (transitively or directly) on vm's level or lower; closing the loop both ways.
      vm.dependsOn = [...((vm.dependsOn as string[]) ?? []), String(other.name)];
      other.dependsOn = [...((other.dependsOn as string[]) ?? []), String(vm.name)];
      break;
    case 'duplicate-vm':
      vms.push({ ...vm });
      break;
    case 'same-site':
      spec.target = spec.source;
      break;
    case 'bad-duration':
      vm.bootEstimate = ['5 min', '1m1h', 'soon', '90', `${m.j}x`][m.j % 5];
      break;
    case 'typo-key':
      vm.dependOn = vm.dependsOn ?? [];
      delete vm.dependsOn;
      break;
    case 'drop-key':
      delete (m.j % 2 === 0 ? vm : spec)[m.j % 2 === 0 ? 'name' : 'source'];
      break;
    case 'wrong-type':
      vm.readiness = m.j % 2 === 0 ? 'yes' : { tcp: 'http' };
      break;
    case 'group-order': {
      const groups = (spec.groups as Json[] | undefined) ?? [];
      if (groups.length >= 2) {
        const last = groups[groups.length - 1]!.vms as string[];
        (groups[0]!.vms as string[]).push(...last.splice(0, 1));
        if (last.length === 0) groups.pop();
      } else {
        spec.groups = [
          { name: 'late', vms: [String(vm.name)] },
          { name: 'early', vms: [String(other.name)] },
        ];
      }
      break;
    }
    case 'action-anchor':
      spec.actions = [
        ...((spec.actions as Json[]) ?? []),
        { name: `act-${m.j % 50}`, after: m.text || 'x', manual: 'check' },
      ];
      break;
    case 'short-auto-failover':
      spec.automaticFailover = { enabled: true, after: `${(m.j % 60) + 1}s` };
      break;
    case 'random-value':
      vm[m.text || 'k'] = m.j;
      break;
  }
}

/** Text-level damage: insert, delete or replace a few characters anywhere. */
const damage = fc.array(
  fc.record({
    at: fc.nat(),
    op: fc.constantFrom('insert', 'delete', 'replace'),
    char: fc.constantFrom(...' :-[]{},#"\'\n\tx1&*!|>'),
  }),
  { maxLength: 3 },
);

function applyDamage(text: string, edits: { at: number; op: string; char: string }[]): string {
  let out = text;
  for (const edit of edits) {
    const at = out.length === 0 ? 0 : edit.at % out.length;
    if (edit.op === 'insert') out = out.slice(0, at) + edit.char + out.slice(at);
    else if (edit.op === 'delete') out = out.slice(0, at) + out.slice(at + 1);
    else out = out.slice(0, at) + edit.char + out.slice(at + 1);
  }
  return out;
}

const testCase = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      source: fc.constant('mutated' as const),
      base: basePlan,
      mutations: fc.array(mutation, { minLength: 1, maxLength: 2 }),
      block: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ source: fc.constant('damaged' as const), base: basePlan, edits: damage }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      source: fc.constant('random' as const),
      value: fc.oneof(fc.jsonValue(), fc.string()),
    }),
  },
);

function render(c: Record<string, unknown>): string {
  if (c.source === 'random') return typeof c.value === 'string' ? c.value : stringify(c.value);
  const base = c.base as { vms: number; depth: number; seed: number };
  const text = generatePlan(base);
  if (c.source === 'damaged') return applyDamage(text, c.edits as { at: number; op: string; char: string }[]);
  // The generator's output is in the fast subset (fast-yaml.test.ts checks it reads it exactly).
  const plan = fastParseYaml(text) as Json;
  for (const m of c.mutations as Mutation[]) mutate(plan, m);
  return c.block ? stringify(plan) : stringify(plan, { collectionStyle: 'flow' });
}

function insideDocument(issue: PlanIssue, text: string): boolean {
  const lines = text.split('\n');
  if (issue.line < 1 || issue.line > lines.length) return false;
  return issue.column >= 1 && issue.column <= (lines[issue.line - 1]?.length ?? 0) + 1;
}

/** Whether the fast path answered; when it does, yaml reads the same text without error or warning. */
function expectFastAgrees(text: string): boolean {
  const fast = fastParseYaml(text);
  if (fast === undefined) return false;
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  expect(doc.errors).toEqual([]);
  expect(doc.warnings).toEqual([]);
  expect(fast).toEqual(doc.toJS({ maxAliasCount: 100 }));
  return true;
}

/**
 * Scalars and keys that YAML 1.1 and 1.2, or js-yaml and yaml, might read differently: 1.1
 * booleans, old octals, sexagesimals, timestamps, merge keys, null-like and numeric keys, overflow,
 * anchors, aliases, tags, quoting and escapes.
 */
const EDGE_WORDS = [
  'yes',
  'no',
  'on',
  'off',
  'y',
  'n',
  'Yes',
  'NO',
  'True',
  'tRUE',
  'false',
  '0777',
  '0o17',
  '0x1F',
  '0b101',
  '1_000',
  '1:30',
  '190:20:30',
  '-1:30',
  '2026-03-01',
  '2026-03-01T02:00:00Z',
  '2026-03-01 02:00:00',
  '<<',
  '=',
  '-0',
  '+0',
  '+12',
  '-.5',
  '+.5',
  '5.',
  '.inf',
  '-.inf',
  '.NaN',
  '.nan',
  '1e5',
  '99999999999999999999999',
  '0.1',
  '"null"',
  "'yes'",
  '"\\x41\\t"',
  "'it''s'",
  '[a, b]',
  '{ a: 1 }',
  '[]',
  '{}',
  'a b',
  'a #c',
  'x#y',
  'sql-01',
  '30s',
  'dr/v1',
  '__proto__',
  'constructor',
];
/** Forms the fast path leaves to yaml (checked to be left, here, by never disagreeing). */
const EDGE_BAIL_WORDS = [
  'null',
  'Null',
  '~',
  '',
  '1e400',
  '-1e400',
  '&a x',
  '*a',
  '!!str 1',
  '!!float 1',
  '!!int 0777',
  '!!bool yes',
  '!!binary aGk=',
  '! x',
  '? q',
];
const edgeWord = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...EDGE_WORDS) },
  { weight: 1, arbitrary: fc.constantFrom(...EDGE_BAIL_WORDS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);
const edgeLine = fc.record({
  indent: fc.constantFrom(0, 0, 2, 4),
  form: fc.constantFrom(
    'key: value',
    'key: value',
    '- value',
    'key:',
    '- key: value',
    '-',
    '{ key: value }',
    '[value, value]',
  ),
  key: edgeWord,
  value: edgeWord,
  other: edgeWord,
});
const edgeValue = fc.oneof(
  { weight: 3, arbitrary: edgeWord },
  { weight: 1, arbitrary: fc.array(edgeWord, { maxLength: 3 }).map((items) => `[${items.join(', ')}]`) },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.tuple(edgeWord, edgeWord), { maxLength: 3 })
      .map((pairs) => `{ ${pairs.map(([k, v]) => `${k}: ${v}`).join(', ')} }`),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(edgeWord, { minLength: 1, maxLength: 3 })
      .map((items) => items.map((i) => `\n  - ${i}`).join('')),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.tuple(edgeWord, edgeWord), { minLength: 1, maxLength: 3 })
      .map((pairs) => pairs.map(([k, v]) => `\n  ${k}: ${v}`).join('')),
  },
);
/** A block mapping of edge keys and values: mostly well-formed, so the fast path answers often. */
const edgeMapping = fc
  .uniqueArray(fc.tuple(edgeWord, edgeValue), { minLength: 1, maxLength: 5, selector: ([key]) => key })
  .map((pairs) => pairs.map(([k, v]) => (v.startsWith('\n') ? `${k}:${v}` : `${k}: ${v}`)).join('\n'));
/** Lines of edge forms at random indentation: mostly malformed, to find where one library is lenient. */
const edgeLines = fc
  .array(edgeLine, { minLength: 1, maxLength: 6 })
  .map((lines) =>
    lines
      .map(
        (l) =>
          ' '.repeat(l.indent) +
          l.form.replace('key', l.key).replace('value', l.value).replace('value', l.other),
      )
      .join('\n'),
  );
/** Small documents of edge forms, now and then with a directive, a document marker or damage. */
const edgeDocument = fc
  .record({
    head: fc.constantFrom('', '', '', '---\n', '%YAML 1.1\n---\n', '%YAML 1.2\n---\n'),
    body: fc.oneof({ weight: 3, arbitrary: edgeMapping }, { weight: 1, arbitrary: edgeLines }),
    edits: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: damage }),
    crlf: fc.boolean(),
  })
  .map(({ head, body, edits, crlf }) => {
    // CRLF first, so damage may leave a CR without its LF.
    const text = crlf ? (head + body).replace(/\n/g, '\r\n') : head + body;
    return applyDamage(text, edits ?? []);
  });

describe('plan parsing under random and mutated input', () => {
  it(
    `yields a typed error or a valid plan, reaches the semantic checks in most cases (${RUNS} cases)`,
    () => {
      const stages = { syntax: 0, schema: 0, semantic: 0, valid: 0 };
      let mutated = 0;
      fc.assert(
        fc.property(testCase, (c) => {
          const text = render(c);
          const { result, stage } = parsePlanWithStage(text, 'fuzz.yaml');
          stages[stage]++;
          if (c.source === 'mutated' && (stage === 'semantic' || stage === 'valid')) mutated++;
          if (result.ok) {
            expect(result.hash).toMatch(/^[0-9a-f]{64}$/);
            expect(Array.isArray(result.plan.vms)).toBe(true);
            const compiled = compilePlan(result.plan, { type: 'planned' });
            expect(compiled.vmOrder).toHaveLength(result.plan.vms.length);
          } else {
            expect(result.issues.length).toBeGreaterThan(0);
            expect(result.issues.some((issue) => issue.severity === 'error')).toBe(true);
          }
          for (const issue of result.ok ? result.warnings : result.issues) {
            expect(issue.code).not.toBe('internal-error');
            expect(issue.file).toBe('fuzz.yaml');
            expect(typeof issue.message).toBe('string');
            expect(insideDocument(issue, text), `${issue.line}:${issue.column} outside the document`).toBe(
              true,
            );
          }
        }),
        { numRuns: RUNS, seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined },
      );
      console.info(
        `plan property: ${JSON.stringify(stages)}; mutated plans reaching the semantic checks: ${mutated}/${RUNS}`,
      );
      // At least half of all cases are mutations of valid plans that reach the semantic checks.
      expect(mutated / RUNS).toBeGreaterThanOrEqual(0.5);
      expect(stages.semantic).toBeGreaterThan(0);
    },
    CASE_BUDGET_MS,
  ); // 1,000 cases of parse + check take seconds, minutes on a loaded 2-core runner

  it(`reports a schema error and a semantic finding elsewhere in the same call (${RUNS / 5} cases)`, () => {
    fc.assert(
      fc.property(basePlan, fc.nat(), fc.nat(), fc.boolean(), (base, i, j, block) => {
        const plan = fastParseYaml(generatePlan(base)) as Json;
        const vms = vmsOf(plan);
        const broken = i % vms.length;
        const dependent = j % vms.length;
        vms[broken]!.bootEstimate = '5 min';
        const deps = [...((vms[dependent]!.dependsOn as string[]) ?? []), 'ghost-vm'];
        vms[dependent]!.dependsOn = deps;
        const text = block ? stringify(plan) : stringify(plan, { collectionStyle: 'flow' });
        const { result, stage } = parsePlanWithStage(text, 'fuzz.yaml');
        expect(stage).toBe('schema');
        const found = result.ok ? [] : result.issues.map((issue) => `${issue.code} ${issue.path}`);
        expect(found).toContain(`invalid-duration spec.vms[${broken}].bootEstimate`);
        expect(found).toContain(`unknown-vm spec.vms[${dependent}].dependsOn[${deps.length - 1}]`);
        expect(new Set(found).size).toBe(found.length);
      }),
      { numRuns: Math.max(1, Math.floor(RUNS / 5)) },
    );
  });

  it(`the fast YAML path answers exactly what the yaml library does, or leaves it to it (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(testCase, (c) => {
        const text = render(c);
        expectFastAgrees(text);
      }),
      { numRuns: RUNS },
    );
  });

  it(
    `the fast YAML path agrees with the yaml library on YAML 1.1/1.2 edge forms (${RUNS} cases)`,
    () => {
      let answered = 0;
      fc.assert(
        fc.property(edgeDocument, (text) => {
          if (expectFastAgrees(text)) answered++;
        }),
        { numRuns: RUNS, seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined },
      );
      console.info(`fast YAML edge forms: the fast path answered ${answered}/${RUNS}`);
      // The generator must reach the fast path often, or it proves nothing about agreement.
      expect(answered / RUNS).toBeGreaterThan(0.1);
    },
    CASE_BUDGET_MS,
  );
});
