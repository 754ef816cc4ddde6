import { compilePlan, type Direction, type FailoverType, type RecoveryPlan } from '../plan/index.ts';

/**
 * The RTO estimate of this run: engine/plan's compile estimate (critical path of the step graph)
 * of the selected part of the plan. Dependencies outside the selection already run at the target
 * (pre-flight checks that), so they drop out of the graph; actions of unselected VMs and groups
 * drop out with them.
 */
export function estimateRunRtoMs(
  plan: RecoveryPlan,
  selected: readonly string[],
  type: FailoverType,
  direction: Direction,
): number {
  return compilePlan(subPlan(plan, selected), { type, direction }).estimate.rtoMs;
}

/** The plan restricted to `selected` (the plan itself when everything is selected). */
export function subPlan(plan: RecoveryPlan, selected: readonly string[]): RecoveryPlan {
  if (selected.length === plan.vms.length) return plan;
  const keep = new Set(selected);
  const groups = plan.groups
    .map((g, index) => ({ index, group: { ...g, vms: g.vms.filter((vm) => keep.has(vm)) } }))
    .filter(({ group }) => group.vms.length > 0);
  const newIndex = new Map(groups.map(({ index }, i) => [index, i]));
  const keptGroups = new Set(groups.map(({ group }) => group.name));
  return {
    ...plan,
    vms: plan.vms
      .filter((vm) => keep.has(vm.name))
      .map((vm) => {
        const { group, ...rest } = vm;
        const mapped = group === undefined ? undefined : newIndex.get(group);
        return {
          ...rest,
          dependsOn: vm.dependsOn.filter((d) => keep.has(d)),
          ...(mapped === undefined ? {} : { group: mapped }),
        };
      }),
    groups: groups.map(({ group }) => group),
    actions: plan.actions.filter((a) =>
      a.vm !== undefined ? keep.has(a.vm) : a.group !== undefined ? keptGroups.has(a.group) : true,
    ),
  };
}
