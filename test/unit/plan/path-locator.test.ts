import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { createPathLocator } from '../../../engine/plan/index.ts';

/** Every node of a document with its printed path and where the yaml library says it starts. */
function everyNode(text: string): { path: string; line: number; column: number }[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const out: { path: string; line: number; column: number }[] = [];
  const walk = (node: unknown, path: string) => {
    const range = (node as Node | null)?.range;
    if (range !== undefined && range !== null && path !== '') {
      const { line, col } = lines.linePos(range[0]);
      out.push({ path, line, column: col });
    }
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isScalar(pair.key) || pair.value === null) continue;
        const key = String(pair.key.value);
        walk(pair.value, path === '' ? key : `${path}.${key}`);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        walk(item, `${path}[${i}]`);
      });
    }
  };
  walk(doc.contents, '');
  return out;
}

describe('createPathLocator', () => {
  it.each(['three-tier', 'sharepoint-farm'])(
    'finds every node of the %s example where yaml puts it',
    (name) => {
      const text = readFileSync(`plans/examples/${name}.yaml`, 'utf8');
      const locate = createPathLocator(text);
      const nodes = everyNode(text);
      expect(nodes.length).toBeGreaterThan(50);
      for (const node of nodes) {
        expect(locate(node.path), node.path).toEqual({ line: node.line, column: node.column });
      }
    },
  );

  const text = [
    '# a comment first',
    'apiVersion: dr/v1',
    'spec:',
    '  vms:',
    '    - name: web',
    '      dependsOn: [db]',
    '    - { name: db }',
  ].join('\n');
  const locate = createPathLocator(text);

  it('takes paths as issues print them or as segments', () => {
    expect(locate('spec.vms[0].dependsOn[0]')).toEqual({ line: 6, column: 19 });
    expect(locate(['spec', 'vms', 0, 'dependsOn', 0])).toEqual({ line: 6, column: 19 });
    expect(locate('spec.vms[1].name')).toEqual({ line: 7, column: 15 });
  });

  it('points at a key on request', () => {
    expect(locate('spec.vms[0].dependsOn', 'key')).toEqual({ line: 6, column: 7 });
  });

  it('falls back to the nearest existing parent, and to nothing when even the first segment is absent', () => {
    expect(locate('spec.vms[1].recoveryPoint')).toEqual({ line: 7, column: 7 });
    expect(locate('spec.vms[9]')).toEqual({ line: 5, column: 5 });
    expect(locate('metadata.name')).toBeUndefined();
    expect(locate('')).toEqual({ line: 2, column: 1 });
  });

  it('answers inside the text for an empty or broken document', () => {
    expect(createPathLocator('')('spec.vms')).toBeUndefined();
    expect(createPathLocator('')('')).toEqual({ line: 1, column: 1 });
    expect(createPathLocator('spec: [1, 2\n')('spec[0]')).toEqual({ line: 1, column: 8 });
  });
});
