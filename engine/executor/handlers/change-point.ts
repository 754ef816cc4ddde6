import type { RecoveryPoint, RecoveryPointSelector } from '../../hosts/index.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { claimFor } from './failover.ts';
import { requireUncommittedReplica } from './revert.ts';
import { mustGetVm, mutation, requireVm, unlessDoneMeanwhile } from './vm.ts';

/**
 * Change of recovery point before commit (the way out after replicated ransomware), second half:
 * the job's `<vm>/revert` step has turned the failed-over VM off and returned it to replica state
 * (Stop-VMFailover, recovery points kept); this step fails it over again from the chosen point and
 * attaches the mapped network. The job's boot and readiness steps start it. A replica found failed
 * over here is this execution's own failover (the revert was recorded before this step ran): it is
 * not failed over twice.
 */
export async function changePointHandler(ctx: HandlerContext): Promise<HandlerOutcome> {
  const vm = requireVm(ctx);
  let view = ctx.known?.name === vm ? ctx.known : await mustGetVm(ctx, vm);
  const repl = requireUncommittedReplica(
    ctx,
    vm,
    view,
    'its other recovery points are gone — the point cannot be changed',
  );
  let point: RecoveryPoint | undefined;
  let mutated = false;
  const lastReplicationTime = view.replication?.lastReplicationTime;
  if (repl.state !== 'FailedOverWaitingCompletion') {
    const failover = await unlessDoneMeanwhile(
      () => ctx.api.startVMFailover({ ...mutation(ctx, vm), mode: 'failover', recoveryPoint: selector(ctx) }),
      () => mustGetVm(ctx, vm),
      (now) => now.replication?.state === 'FailedOverWaitingCompletion',
    );
    if ('result' in failover) {
      view = failover.result.vm;
      point = failover.result.recoveryPoint;
    } else view = failover.meanwhile;
    mutated = true;
  }
  const network = ctx.job.network;
  if (
    network !== undefined &&
    (view.network?.network !== network.network || view.network?.ip !== network.ip)
  ) {
    view = await ctx.api.connectVMNetwork({ ...mutation(ctx, vm), ...network });
    mutated = true;
  }
  // The new point's data-loss claim, made as an unplanned failover's (failover.ts claimFor).
  const dataLoss = point ? await claimFor(ctx, vm, point, lastReplicationTime) : undefined;
  const output: Record<string, unknown> = {
    failedOver: mutated,
    ...(point ? { recoveryPoint: point } : {}),
    ...(dataLoss ? { dataLoss } : {}),
  };
  const outcome: HandlerOutcome = { outcome: 'done', mutated, output, view };
  return { ...outcome, ...(point ? { recoveryPoint: point } : {}), ...(dataLoss ? { dataLoss } : {}) };
}

function selector(ctx: HandlerContext): RecoveryPointSelector {
  return ctx.job.recoveryPoint ?? { kind: 'latest' };
}
