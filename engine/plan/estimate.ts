import type { PlanAction, RecoveryPlan } from './types.ts';

/**
 * The RTO model. Orchestration time only, from the moment the plan starts:
 * - failover (Start-VMFailover on the replica, choosing the recovery point): FAILOVER_STEP_MS, a
 *   few seconds on Hyper-V Replica, independent of VM size because the disks are already there;
 * - shutdown at the source (planned only): SHUTDOWN_STEP_MS, a guest shutdown plus the last delta
 *   replication that makes a planned failover lose no data;
 * - boot: the VM's bootEstimate (default 1m), up to its first heartbeat;
 * - readiness: the longest fixed `delay` check (probes and heartbeat are part of the boot estimate);
 * - actions: their `estimate` when given, else a script 30 s (or its timeout when shorter), a webhook
 *   2 s, a manual step 0 (operator time is not orchestration time; give the action an `estimate` to
 *   include it);
 * - barriers: 0.
 */
export const FAILOVER_STEP_MS = 5_000;
export const SHUTDOWN_STEP_MS = 60_000;
export const SCRIPT_ESTIMATE_MS = 30_000;
export const WEBHOOK_ESTIMATE_MS = 2_000;

export function actionEstimateMs(action: PlanAction): number {
  if (action.estimateMs !== undefined) return action.estimateMs;
  switch (action.run.type) {
    case 'script':
      return Math.min(SCRIPT_ESTIMATE_MS, action.timeoutMs);
    case 'webhook':
      return Math.min(WEBHOOK_ESTIMATE_MS, action.timeoutMs);
    case 'manual':
      return 0;
  }
}

/**
 * The same plan run the ASR/SRM way: strictly ordered groups, every VM of a group in parallel, the
 * next group only after the whole group is ready. With no groups in the plan, each dependency depth
 * becomes a group (what an admin porting the plan to ASR must do, as ASR groups are the only
 * ordering it has); ungrouped VMs join the earliest group their dependencies allow. A group lasts as
 * long as its slowest VM pipeline (before-actions, failover, boot, readiness, after-actions, plus
 * chains inside the group), plus the group's own actions. A planned failover adds the shutdown
 * phase the caller passes (compile.ts: one shutdown per group, in reverse group order).
 */
export function sequentialGroupsEstimate(
  plan: RecoveryPlan,
  pipelineMs: ReadonlyMap<string, number>,
  groupActionsMs: ReadonlyMap<string, number>,
  vmOrder: readonly string[],
  shutdownMs: number,
): number {
  const byName = new Map(plan.vms.map((vm) => [vm.name, vm]));
  const useDepth = plan.groups.length === 0;
  const level = new Map<string, number>();
  for (const name of vmOrder) {
    const vm = byName.get(name)!;
    let at = useDepth ? 0 : (vm.group ?? 0);
    for (const dep of vm.dependsOn) {
      const depLevel = level.get(dep) ?? 0;
      if (useDepth) at = Math.max(at, depLevel + 1);
      else if (vm.group === undefined) at = Math.max(at, depLevel);
    }
    level.set(name, at);
  }
  // Inside a group, dependsOn still orders VMs: a chain lasts its summed pipelines.
  const chain = new Map<string, number>();
  const groupTime = new Map<number, number>();
  for (const name of vmOrder) {
    const vm = byName.get(name)!;
    const own = level.get(name)!;
    let before = 0;
    for (const dep of vm.dependsOn)
      if (level.get(dep) === own) before = Math.max(before, chain.get(dep) ?? 0);
    const total = before + (pipelineMs.get(name) ?? 0);
    chain.set(name, total);
    groupTime.set(own, Math.max(groupTime.get(own) ?? 0, total));
  }
  let sum = shutdownMs;
  for (const ms of groupTime.values()) sum += ms;
  for (const group of plan.groups) sum += groupActionsMs.get(group.name) ?? 0;
  return sum;
}
