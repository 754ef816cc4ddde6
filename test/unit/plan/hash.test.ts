import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePlan, planHash, type RecoveryPlan } from '../../../engine/plan/index.ts';

function loadExample(name: string): RecoveryPlan {
  const result = parsePlan(readFileSync(`plans/examples/${name}.yaml`, 'utf8'), `${name}.yaml`);
  if (!result.ok) throw new Error(`${name}: ${result.issues[0]?.message}`);
  return result.plan;
}

type Path = (string | number)[];

/** Every object, array and leaf of a JSON-like value, with its path. */
function* nodes(value: unknown, path: Path = []): Generator<[Path, unknown]> {
  yield [path, value];
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* nodes(value[i], [...path, i]);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) yield* nodes(child, [...path, key]);
  }
}

/** A deep copy of `plan` with `edit` applied to the node at `path`. */
function edited(plan: RecoveryPlan, path: Path, edit: (node: unknown) => unknown): RecoveryPlan {
  const copy = structuredClone(plan) as unknown as Record<string | number, unknown>;
  if (path.length === 0) return edit(copy) as RecoveryPlan;
  let parent: Record<string | number, unknown> = copy;
  for (const segment of path.slice(0, -1)) parent = parent[segment] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  parent[last] = edit(parent[last]);
  return copy as unknown as RecoveryPlan;
}

function changedLeaf(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
      return `${value}x`;
    case 'number':
      return value + 1;
    case 'boolean':
      return !value;
    default:
      throw new Error(`unexpected leaf ${String(value)}`);
  }
}

describe('the plan hash', () => {
  describe.each(['three-tier', 'sharepoint-farm'])('of the %s example', (name) => {
    const plan = loadExample(name);
    const base = planHash(plan);
    const all = [...nodes(plan)];

    // Regression: the hash was built field by field, so a field added to the normalized plan (or
    // forgotten in hash.ts) left two plans that run differently with the same hash.
    it('changes when a field is added to any object of the normalized plan', () => {
      const objects = all.filter(
        ([, node]) => typeof node === 'object' && node !== null && !Array.isArray(node),
      );
      expect(objects.length).toBeGreaterThan(10);
      for (const [path] of objects) {
        const hash = planHash(edited(plan, path, (node) => ({ ...(node as object), addedField: 1 })));
        expect(hash, `adding a field at ${path.join('.') || '(root)'}`).not.toBe(base);
      }
    });

    it('changes when any value of the normalized plan changes', () => {
      const leaves = all.filter(([, node]) => typeof node !== 'object' || node === null);
      expect(leaves.length).toBeGreaterThan(20);
      for (const [path] of leaves) {
        const hash = planHash(edited(plan, path, changedLeaf));
        expect(hash, `changing ${path.join('.')}`).not.toBe(base);
      }
    });

    it('changes when a list of the normalized plan gains an item', () => {
      const lists = all.filter(([, node]) => Array.isArray(node));
      for (const [path, node] of lists) {
        const grown =
          (node as unknown[]).length === 0 ? ['added'] : [...(node as unknown[]), (node as unknown[])[0]];
        expect(planHash(edited(plan, path, () => grown)), `growing ${path.join('.')}`).not.toBe(base);
      }
    });

    it('does not depend on the order of keys', () => {
      const reversed = (value: unknown): unknown => {
        if (Array.isArray(value)) return value.map(reversed);
        if (typeof value !== 'object' || value === null) return value;
        return Object.fromEntries(
          Object.entries(value)
            .reverse()
            .map(([key, child]) => [key, reversed(child)]),
        );
      };
      expect(planHash(reversed(plan) as RecoveryPlan)).toBe(base);
    });
  });

  it('does not change with comments and blank lines', () => {
    const text = readFileSync('plans/examples/three-tier.yaml', 'utf8');
    const reflowed = `# a comment\n${text.replace(/\n/g, '\n\n')}`;
    const a = parsePlan(text, 'a.yaml');
    const b = parsePlan(reflowed, 'b.yaml');
    expect(a.ok && b.ok).toBe(true);
    if (a.ok && b.ok) expect(b.hash).toBe(a.hash);
  });
});
