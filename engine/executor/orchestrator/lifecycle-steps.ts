/**
 * The step graphs of the lifecycle executions, built from the execution's plan snapshot (the VMs
 * the operation applies to, see store/lifecycle.ts) and the failover's sites:
 *
 * - commit: `<vm>/commit` per VM at the recovery site, independent.
 * - change-point: per VM `<vm>/revert` (off, Stop-VMFailover: a replica again), `<vm>/change-point`
 *   (fail over from the new point), `<vm>/boot` and `<vm>/readiness`, one VM after another in the
 *   plan's dependency order (dependsOn and ordered groups): a VM is reverted only once the VMs it
 *   depends on are ready on the new point. So a VM whose change fails (its host died, its point
 *   is gone) stops only the VMs after it, and those keep running on the old point: every VM still
 *   runs somewhere. (Reverting all first, as before, left the VMs after a failed one off in both
 *   sites.) Revert and change-point are two steps, so that a repeated job never mistakes the old
 *   failover for the new one: once the revert is recorded, a failed-over replica can only be this
 *   execution's.
 * - cancel, in the failover's reverse order: the undo of each `after` action that ran, then per VM
 *   `<vm>/revert` at the recovery site and `<vm>/restore` at the source (in dependency order), then
 *   the undo of each `before` action that ran. Undo steps are `action/<name>/undo`. After each
 *   restore, `<vm>/return` at the recovery site: a step the graph always has but that runs only
 *   when the restore could not reach the source (the VM runs nowhere then); otherwise the
 *   orchestrator records it skipped without a job (conditional-steps.ts). It brings the VM back up
 *   at the recovery site. The undo of the `before` actions waits for the returns, and is skipped
 *   when a VM returned: the failover is not rolled back for that VM.
 * - reprotect: `<vm>/reprotect` (reverse replication) then `<vm>/resync` (until healthy), per VM.
 */

import type { LifecycleType } from '../../contract/index.ts';
import type { PlanAction, PlanStep, PlanVm, RecoveryPlan } from '../../plan/types.ts';

export function undoStepId(action: string): string {
  return `action/${action}/undo`;
}

interface Sites {
  fromSite: string;
  toSite: string;
}

export function lifecycleSteps(type: LifecycleType, plan: RecoveryPlan, sites: Sites): Map<string, PlanStep> {
  const steps = new Map<string, PlanStep>();
  const add = (step: Omit<PlanStep, 'before'>): void => {
    steps.set(step.id, { ...step, before: [] });
  };
  switch (type) {
    case 'commit':
      for (const vm of plan.vms)
        add({
          id: `${vm.name}/commit`,
          kind: 'failover',
          vm: vm.name,
          site: sites.toSite,
          estimateMs: 500,
          after: [],
        });
      break;
    case 'reprotect':
      for (const vm of plan.vms) {
        add({
          id: `${vm.name}/reprotect`,
          kind: 'failover',
          vm: vm.name,
          site: sites.toSite,
          estimateMs: 500,
          after: [],
        });
        add({
          id: `${vm.name}/resync`,
          kind: 'readiness',
          vm: vm.name,
          site: sites.toSite,
          estimateMs: 1000,
          after: [`${vm.name}/reprotect`],
        });
      }
      break;
    case 'change-point': {
      const readinessAfter = orderedAfter(plan, 'readiness');
      for (const vm of plan.vms) {
        add({
          id: `${vm.name}/revert`,
          kind: 'failover',
          vm: vm.name,
          site: sites.toSite,
          estimateMs: 500,
          after: readinessAfter(vm),
        });
        add({
          id: `${vm.name}/change-point`,
          kind: 'failover',
          vm: vm.name,
          site: sites.toSite,
          estimateMs: 1000,
          after: [`${vm.name}/revert`],
        });
        add({
          id: `${vm.name}/boot`,
          kind: 'boot',
          vm: vm.name,
          site: sites.toSite,
          estimateMs: vm.bootEstimateMs,
          after: [`${vm.name}/change-point`],
        });
        add({
          id: `${vm.name}/readiness`,
          kind: 'readiness',
          vm: vm.name,
          site: sites.toSite,
          estimateMs: 0,
          after: [`${vm.name}/boot`],
        });
      }
      addGroupBarriers(plan, 'readiness', add);
      break;
    }
    case 'cancel': {
      const restoreAfter = orderedAfter(plan, 'restore');
      const undoAfter = plan.actions.filter((a) => a.when === 'after' && a.undo !== undefined);
      const undoBefore = plan.actions.filter((a) => a.when === 'before' && a.undo !== undefined);
      for (const action of undoAfter) add(undoStep(action, sites, []));
      const first = undoAfter.length > 0 ? ['barrier/undone-after'] : [];
      if (undoAfter.length > 0) {
        add({
          id: 'barrier/undone-after',
          kind: 'barrier',
          site: 'control',
          estimateMs: 0,
          after: undoAfter.map((a) => undoStepId(a.name)),
        });
      }
      for (const vm of plan.vms) {
        add({
          id: `${vm.name}/revert`,
          kind: 'failover',
          vm: vm.name,
          site: sites.toSite,
          estimateMs: 1000,
          after: first,
        });
        add({
          id: `${vm.name}/restore`,
          kind: 'boot',
          vm: vm.name,
          site: sites.fromSite,
          estimateMs: vm.bootEstimateMs,
          after: [`${vm.name}/revert`, ...restoreAfter(vm)],
        });
        add({
          id: `${vm.name}/return`,
          kind: 'return',
          vm: vm.name,
          site: sites.toSite,
          estimateMs: vm.bootEstimateMs,
          after: [`${vm.name}/restore`],
        });
      }
      addGroupBarriers(plan, 'restore', add);
      if (undoBefore.length > 0) {
        add({
          id: 'barrier/restored',
          kind: 'barrier',
          site: 'control',
          estimateMs: 0,
          after: plan.vms.map((vm) => `${vm.name}/return`),
        });
        for (const action of undoBefore) add(undoStep(action, sites, ['barrier/restored']));
      }
      break;
    }
  }
  for (const step of steps.values()) {
    for (const pred of step.after) steps.get(pred)?.before.push(step.id);
  }
  return steps;
}

function undoStep(action: PlanAction, sites: Sites, after: string[]): Omit<PlanStep, 'before'> {
  const runsAtTarget = action.undo?.type === 'script' && action.undo.runOn === 'target';
  return {
    id: undoStepId(action.name),
    kind: 'action',
    action: action.name,
    site: runsAtTarget ? sites.toSite : 'control',
    estimateMs: action.estimateMs ?? 1000,
    after,
  };
}

/**
 * What a VM's `<stage>` step waits for: the same stage of its dependencies (those in the plan),
 * and the previous ordered group's barrier.
 */
function orderedAfter(plan: RecoveryPlan, stage: 'readiness' | 'restore'): (vm: PlanVm) => string[] {
  // Computed once per graph: 10,000 VMs must not cost 10,000 scans of the plan.
  const present = new Set(plan.vms.map((v) => v.name));
  const previousGroup: (string | undefined)[] = [];
  let last: string | undefined;
  for (const group of plan.groups) {
    previousGroup.push(last);
    if (group.vms.some((v) => present.has(v))) last = group.name;
  }
  return (vm) => {
    const after = vm.dependsOn.filter((d) => present.has(d)).map((d) => `${d}/${stage}`);
    const previous = vm.group === undefined ? undefined : previousGroup[vm.group];
    if (previous !== undefined) after.push(groupBarrier(previous, stage));
    return after;
  };
}

function groupBarrier(group: string, stage: string): string {
  return `barrier/group/${group}/${stage}`;
}

/** One barrier per ordered group (that has VMs here) after its VMs' `<stage>` steps. */
function addGroupBarriers(
  plan: RecoveryPlan,
  stage: 'readiness' | 'restore',
  add: (step: Omit<PlanStep, 'before'>) => void,
): void {
  const present = new Set(plan.vms.map((v) => v.name));
  for (const group of plan.groups) {
    const vms = group.vms.filter((v) => present.has(v));
    if (vms.length === 0) continue;
    add({
      id: groupBarrier(group.name, stage),
      kind: 'barrier',
      group: group.name,
      site: 'control',
      estimateMs: 0,
      after: vms.map((v) => `${v}/${stage}`),
    });
  }
}
