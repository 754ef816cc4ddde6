import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compilePlan, parsePlan } from '../../engine/plan/index.ts';
import { estimateRunRtoMs, selectSubset, subPlan } from '../../engine/preflight/index.ts';

function load(file: string) {
  const parsed = parsePlan(readFileSync(file, 'utf8'), file);
  if (!parsed.ok) throw new Error(`${file} does not parse`);
  return parsed.plan;
}

describe('the RTO estimate of part of a plan', () => {
  const farm = load('plans/examples/sharepoint-farm.yaml');

  it('keeps the plan as is when everything is selected', () => {
    expect(
      subPlan(
        farm,
        farm.vms.map((vm) => vm.name),
      ),
    ).toBe(farm);
  });

  it('drops unselected VMs, their dependencies, actions and empty groups, and still compiles', () => {
    const group = farm.groups.length; // the last ordered group
    const selected = selectSubset(farm, { group }).vms;
    const part = subPlan(farm, selected);
    expect(part.vms.map((vm) => vm.name)).toEqual(selected);
    const kept = new Set(selected);
    for (const vm of part.vms) {
      expect(vm.dependsOn.every((d) => kept.has(d))).toBe(true);
      expect(vm.group === undefined || part.groups[vm.group]?.vms.includes(vm.name)).toBe(true);
    }
    expect(part.groups.every((g) => g.vms.length > 0)).toBe(true);
    for (const action of part.actions) {
      if (action.vm !== undefined) expect(kept.has(action.vm)).toBe(true);
      if (action.group !== undefined) expect(part.groups.some((g) => g.name === action.group)).toBe(true);
    }
    for (const type of ['test', 'planned', 'unplanned'] as const) {
      const whole = compilePlan(farm, { type }).estimate.rtoMs;
      const estimate = estimateRunRtoMs(farm, selected, type, 'forward');
      expect(estimate).toBeGreaterThan(0);
      expect(estimate).toBeLessThan(whole);
    }
  });
});
