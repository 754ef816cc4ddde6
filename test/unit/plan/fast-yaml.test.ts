import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { fastParseYaml } from '../../../engine/plan/fast-yaml.ts';
import { generatePlan } from '../../../engine/plan/index.ts';

describe('the fast YAML path', () => {
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
    expect(fastParseYaml(text)).toEqual(parse(text));
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
    ['a: "x" # y', { a: 'x' }],
  ])('reads %j', (text, expected) => {
    expect(fastParseYaml(text)).toEqual(expected);
    expect(parse(text)).toEqual(expected);
  });

  it.each([
    ['anchors', 'a: &x 1\nb: *x'],
    ['tags', 'a: !!str 1'],
    ['block scalars', 'a: |\n  text'],
    ['multi-line plain scalars', 'a: one\n  two'],
    ['duplicate keys', 'a: 1\na: 2'],
    ['tabs', 'a:\t1'],
    ['hex and octal numbers', 'a: 0x1F'],
    ['document markers', '---\na: 1'],
    ['trailing flow commas', 'a: [1, 2,]'],
    ['a " #" inside quotes', 'a: "x # y"'],
    ['malformed flow', 'a: [1, 2'],
  ])('leaves %s to the yaml library', (_what, text) => {
    expect(fastParseYaml(text)).toBeUndefined();
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
    for (const text of [`a: ${word}`, `a: [${word}]`, `a: { b: ${word} }`]) {
      const fast = fastParseYaml(text);
      if (fast !== undefined) expect(Object.is(JSON.stringify(fast), JSON.stringify(parse(text)))).toBe(true);
      if (fast !== undefined) expect(fast).toEqual(parse(text));
    }
  });
});
