import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { fastParseYaml } from '../../../engine/plan/fast-yaml.ts';
import { generatePlan, parsePlan } from '../../../engine/plan/index.ts';

/** What the located path (the yaml library, as parse.ts calls it) reads, or 'error'. */
function yamlReads(text: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) return 'error';
  return doc.toJS({ maxAliasCount: 100 });
}

describe('the fast YAML path (js-yaml)', () => {
  it.each(['three-tier', 'sharepoint-farm', 'estate-200'])(
    'reads the %s example exactly as the yaml library does',
    (name) => {
      const text = readFileSync(`plans/examples/${name}.yaml`, 'utf8');
      const fast = fastParseYaml(text);
      expect(fast).not.toBeUndefined();
      expect(fast).toEqual(parse(text));
    },
  );

  it('reads a generated plan exactly as the yaml library does', () => {
    const text = generatePlan({ vms: 2_000, depth: 8, seed: 5 });
    const fast = fastParseYaml(text);
    expect(fast).not.toBeUndefined();
    expect(fast).toEqual(parse(text));
  });

  it.each([
    [
      'a: 1\nb: [x, "y", \'z\']\nc: { d: true, e: ~, f: 1.5 }',
      { a: 1, b: ['x', 'y', 'z'], c: { d: true, e: null, f: 1.5 } },
    ],
    ['list:\n- a\n- b\nnext: 1', { list: ['a', 'b'], next: 1 }],
    ['- - a\n  - b\n- c', [['a', 'b'], 'c']],
    ['k: 2026-03-01T02:00:00Z # a comment', { k: '2026-03-01T02:00:00Z' }],
    ['k:\n  - name: x\n    v: 30s', { k: [{ name: 'x', v: '30s' }] }],
    ['a: "x # y"', { a: 'x # y' }],
    ['a: |\n  one\n  two\n', { a: 'one\ntwo\n' }],
    ['a: one\n  two', { a: 'one two' }],
    ['---\na: 1\n...\n', { a: 1 }],
    ['a: [1, 2,]', { a: [1, 2] }],
    ['a: 1\r\nb: [x, y]\r\n', { a: 1, b: ['x', 'y'] }],
  ])('reads %j as the yaml library does', (text, expected) => {
    expect(fastParseYaml(text)).toEqual(expected);
    expect(yamlReads(text)).toEqual(expected);
  });

  // YAML 1.1 readings that YAML 1.2's core schema (js-yaml's CORE_SCHEMA and yaml's default) drops:
  // both libraries must read them the same way, or the fast path must leave them to yaml.
  describe('when a plan holds forms YAML 1.1 and 1.2 read differently', () => {
    it.each([
      ['yes/no/on/off stay strings', 'a: [yes, no, on, off, y, n, Yes, ON]'],
      ['an old-style octal is decimal', 'a: 0777'],
      ['a 1.2 octal and hex are numbers', 'a: [0o17, 0x1F]'],
      ['a sexagesimal number is a string', 'a: [1:30, 190:20:30]'],
      ['a timestamp and a date are strings', 'a: [2026-03-01T02:00:00Z, 2026-03-01]'],
      ['underscores in numbers are strings', 'a: [1_000, 1_0.5]'],
      ['booleans are only true/false', 'a: [True, FALSE, tRUE]'],
      ['signs and bare points are floats', 'a: [+12, -.5, +.5, 5., .inf, -.inf, .nan]'],
      ['-0 is minus zero', 'a: -0'],
      ['<< without an alias is a plain key', '<<: { a: 1 }\nb: 2'],
      ['numbers as keys are strings', '1: a\n0x10: b\n1.5: c'],
    ])('%s (read as yaml does)', (_what, text) => {
      const fast = fastParseYaml(text);
      expect(fast).not.toBeUndefined();
      expect(fast).toEqual(yamlReads(text));
    });

    it.each([
      ['a %YAML 1.1 directive', '%YAML 1.1\n---\na: yes\nb: 0777\nc: 1:30'],
      ['any directive', '%YAML 1.2\n---\na: 1'],
      ['a merge key with an alias', 'base: &b { x: 1 }\nvm:\n  <<: *b\n  y: 2'],
      ['anchors and aliases', 'a: &x 1\nb: *x'],
      ['an anchor alone', 'a: &x 1'],
      ['duplicate keys', 'a: 1\na: 2'],
      ['keys that are equal once read', '1: a\n01: b'],
      ['explicit tags', 'a: !!float 1'],
      ['a timestamp tag', 'a: !!timestamp 2026-03-01'],
      ['the non-specific tag', 'a: ! 12'],
      ['a null key (yaml reads "", js-yaml "null")', 'null: a'],
      ['a ~ key', '~: a'],
      ['an empty key', ': a'],
      ['a collection as a key', '[a]: b'],
      ['an explicit collection key', '? { a: 1 }\n: b'],
      ['a key longer than yaml allows', `${'k'.repeat(1_100)}: 1`],
      ['a number too large for a double', 'a: 1e400'],
      ['an integer too large for a double', `a: ${'9'.repeat(400)}`],
      ['a hex integer too large for a double', `a: 0x${'F'.repeat(300)}`],
      ['two documents', 'a: 1\n---\nb: 2'],
      ['an empty document', ''],
      ['a comment alone', '# nothing'],
      ['malformed flow', 'a: [1, 2'],
      ['a tab as indentation', '\ta: 1'],
      ['a CR without LF (a line break for js-yaml, not for yaml)', 'a: 1\rb: 2'],
      // Soak seed -1605678935: js-yaml skipped the spaces and read a directive; yaml refuses the %.
      ['an indented directive before a document marker', ' %Y AML 1.2\r\n---\r\nyes: yes'],
    ])('leaves %s to the yaml library', (_what, text) => {
      expect(fastParseYaml(text)).toBeUndefined();
    });

    it('a YAML 1.1 document gets its 1.1 reading from the located path', () => {
      const text = [
        '%YAML 1.1',
        '---',
        'apiVersion: dr/v1',
        'kind: RecoveryPlan',
        'metadata: { name: erp }',
        'spec:',
        '  source: dc-east',
        '  target: dc-west',
        '  vms: [{ name: sql-01 }]',
        '  automaticFailover: { enabled: no }',
      ].join('\n');
      const result = parsePlan(text, 'old.yaml');
      // yaml reads `no` as false under %YAML 1.1, exactly as it did before the fast path existed.
      expect(result.ok).toBe(true);
    });
  });
});

describe('plain scalars on the fast path', () => {
  const words = [
    'sql-001',
    'drill-net',
    '90s',
    '1h30m',
    '500ms',
    '1e5',
    '0x1F',
    'true',
    'True',
    'TRUE',
    'false',
    'False',
  ]
    .concat([
      'FALSE',
      'null',
      'Null',
      'NULL',
      'nope',
      'tcp',
      '~',
      'x',
      '_y',
      'a/b',
      'dr/v1',
      'Zeta',
      '1m1h',
      '5',
      '5.5',
    ])
    .concat([
      '-3',
      '-0',
      '.inf',
      'fin',
      'no',
      'yes',
      'on',
      'off',
      'y',
      'n',
      'NaN',
      '.NaN',
      'Infinity',
      '0o7',
      '12e3',
      'Tx',
    ]);

  it.each(words)('read "%s" as the yaml library does, or leave it to it', (word) => {
    for (const text of [`a: ${word}`, `a: [${word}]`, `a: { b: ${word} }`, `${word}: a`, `{ ${word}: a }`]) {
      const fast = fastParseYaml(text);
      if (fast !== undefined) expect(fast).toEqual(yamlReads(text));
    }
  });
});
