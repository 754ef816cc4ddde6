import { describe, expect, it } from 'vitest';
import { compilePlan, generatePlan, parsePlan } from '../../../engine/plan/index.ts';

describe('generatePlan', () => {
  it('makes the same plan from the same seed, byte for byte', () => {
    expect(generatePlan({ vms: 300, depth: 6, seed: 42 })).toBe(
      generatePlan({ vms: 300, depth: 6, seed: 42 }),
    );
  });

  it('makes a different plan from another seed', () => {
    expect(generatePlan({ vms: 300, depth: 6, seed: 42 })).not.toBe(
      generatePlan({ vms: 300, depth: 6, seed: 43 }),
    );
  });

  it.each([
    [1, 1],
    [2, 5],
    [50, 3],
    [1_000, 10],
    [3_000, 25],
  ])('makes a valid plan with %i VMs in %i levels', (vms, depth) => {
    const result = parsePlan(generatePlan({ vms, depth, seed: 7 }), 'generated.yaml');
    if (!result.ok)
      throw new Error(result.issues.map((i) => `${i.line}:${i.column} ${i.message}`).join('\n'));
    expect(result.plan.vms).toHaveLength(vms);
    expect(result.warnings).toEqual([]);
  });

  it('looks like an estate: tiers, fan-in, groups and every kind of action', () => {
    const result = parsePlan(generatePlan({ vms: 500, depth: 6, seed: 3 }), 'generated.yaml');
    if (!result.ok) throw new Error('invalid');
    const plan = result.plan;
    const roles = new Set(plan.vms.map((vm) => vm.name.replace(/-\d+$/, '')));
    for (const role of ['dc', 'sql', 'fs', 'web']) expect(roles).toContain(role);
    expect(plan.groups.map((g) => g.name)).toEqual(['infrastructure', 'databases']);
    expect(new Set(plan.actions.map((a) => a.run.type))).toEqual(new Set(['manual', 'script', 'webhook']));
    const dependents = new Map<string, number>();
    for (const vm of plan.vms)
      for (const dep of vm.dependsOn) dependents.set(dep, (dependents.get(dep) ?? 0) + 1);
    expect(Math.max(...dependents.values())).toBeGreaterThan(10); // hubs: fan-out
    expect(plan.vms.some((vm) => vm.dependsOn.length >= 3)).toBe(true); // fan-in
    expect(compilePlan(plan, { type: 'unplanned' }).waves.length).toBeGreaterThanOrEqual(6 * 3);
  });

  it('writes the same plan in block style, with every line short enough for formatters', () => {
    const flow = parsePlan(generatePlan({ vms: 400, depth: 6, seed: 11 }), 'flow.yaml');
    const blockText = generatePlan({ vms: 400, depth: 6, seed: 11, style: 'block' });
    const block = parsePlan(blockText, 'block.yaml');
    expect(flow.ok && block.ok && flow.hash === block.hash).toBe(true);
    expect(Math.max(...blockText.split('\n').map((line) => line.length))).toBeLessThanOrEqual(110);
  });
});
