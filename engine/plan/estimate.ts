import type { PlanAction, RecoveryPlan } from './types.ts';

/**
 * The RTO model. Orchestration time only, from the moment the plan starts:
 * - failover (Start-VMFailover on the replica, choosing the recovery point): FAILOVER_STEP_MS, a
 *   few seconds on Hyper-V Replica, independent of VM size because the disks are already there;
 * - shutdown at the source (planned only): SHUTDOWN_STEP_MS, a guest shutdown plus the last delta
 *   replication that makes a planned failover lose no data;
 * - fence at the source (unplanned only): FENCE_STEP_MS, a turn-off and a start bar, all VMs at once
 *   before their failovers. A source that does not answer costs up to the plan's fencing deadline
 *   (spec.fencing.deadline) instead; the estimate assumes the source answers or is known down;
 * - boot: the VM's bootEstimate (default 1m), up to its first heartbeat;
 * - readiness: the longest fixed `delay` check (probes and heartbeat are part of the boot estimate);
 * - actions: their `estimate` when given, else a script 30 s (or its timeout when shorter), a webhook
 *   2 s, a manual step 0 (operator time is not orchestration time; give the action an `estimate` to
 *   include it);
 * - barriers: 0.
 */
export const FAILOVER_STEP_MS = 5_000;
export const SHUTDOWN_STEP_MS = 60_000;
export const FENCE_STEP_MS = 5_000;
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
 * The same plan run the ASR/SRM way: strictly ordered groups, all VMs of a group started together,
 * the next group only after the whole group is ready. ASR groups are its only ordering, so the
 * grouping used is the one an admin porting the plan must build: the fewest groups that keep the
 * plan's own group order and put every VM in a later group than each of its dependencies (a plan
 * without groups gets one group per dependency depth). A group lasts as long as its slowest VM
 * pipeline (before-actions, failover, boot, readiness, after-actions), plus the plan groups' own
 * actions. A planned failover (`shutdown` given) first shuts the groups down one after another in
 * reverse order, after the before-actions that precede the shutdowns; an unplanned failover first
 * fences every source VM at once (`fenceMs`). `vmOrder` must respect dependencies and group order.
 */
export function sequentialGroupsEstimate(
  plan: RecoveryPlan,
  pipelineMs: ReadonlyMap<string, number>,
  groupActionsMs: ReadonlyMap<string, number>,
  vmOrder: readonly string[],
  shutdown?: { perGroupMs: number; actionsMs: number },
  fenceMs = 0,
): number {
  const byName = new Map(plan.vms.map((vm) => [vm.name, vm]));
  const level = new Map<string, number>();
  const lastLevelOfGroup: number[] = [];
  const levelMs: number[] = [];
  for (const name of vmOrder) {
    const vm = byName.get(name)!;
    let at = vm.group !== undefined && vm.group > 0 ? (lastLevelOfGroup[vm.group - 1] ?? -1) + 1 : 0;
    for (const dep of vm.dependsOn) at = Math.max(at, (level.get(dep) ?? 0) + 1);
    level.set(name, at);
    if (vm.group !== undefined) lastLevelOfGroup[vm.group] = Math.max(lastLevelOfGroup[vm.group] ?? 0, at);
    levelMs[at] = Math.max(levelMs[at] ?? 0, pipelineMs.get(name) ?? 0);
  }
  let sum =
    fenceMs + (shutdown === undefined ? 0 : shutdown.actionsMs + levelMs.length * shutdown.perGroupMs);
  for (const ms of levelMs) sum += ms ?? 0;
  for (const group of plan.groups) sum += groupActionsMs.get(group.name) ?? 0;
  return sum;
}
