/**
 * The steps of a cleanup execution: one `<vm>/cleanup` step per VM of the drill, at the drill's
 * target site, independent of each other. The worker removes the test VM (`Stop-VMFailover -Test`).
 */
import type { PlanStep, RecoveryPlan } from '../../plan/types.ts';

export function cleanupStepId(vm: string): string {
  return `${vm}/cleanup`;
}

export function isCleanupStep(id: string): boolean {
  return id.endsWith('/cleanup');
}

export function cleanupSteps(plan: RecoveryPlan, site: string): Map<string, PlanStep> {
  const steps = new Map<string, PlanStep>();
  for (const vm of plan.vms) {
    const id = cleanupStepId(vm.name);
    // Kind `failover` stands for "acts on the replica"; the job's type (cleanup) says what to do.
    steps.set(id, { id, kind: 'failover', vm: vm.name, site, estimateMs: 1000, after: [], before: [] });
  }
  return steps;
}
