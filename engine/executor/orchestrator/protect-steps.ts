/**
 * The steps of a protect execution: one `<vm>/protect` step per VM, at the site where the VM ran
 * as the primary when the protect was submitted (store/protect.ts records it), independent of
 * each other, so a VM whose host is down fails alone and the others are set.
 */
import type { PlanStep, RecoveryPlan } from '../../plan/types.ts';

export function protectStepId(vm: string): string {
  return `${vm}/protect`;
}

export function protectSteps(
  plan: RecoveryPlan,
  sites: Readonly<Record<string, string>>,
): Map<string, PlanStep> {
  const steps = new Map<string, PlanStep>();
  for (const vm of plan.vms) {
    const id = protectStepId(vm.name);
    // Kind `boot` stands for "acts on the primary"; the job's type (protect) says what to do.
    const site = sites[vm.name] ?? plan.source;
    steps.set(id, { id, kind: 'boot', vm: vm.name, site, estimateMs: 500, after: [], before: [] });
  }
  return steps;
}
