import type { RecoveryPoint, RecoveryPointSelector } from '../../../simulators/api.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError } from './errors.ts';
import { describe } from './shutdown.ts';
import { mustGetVm, mutation, requireVm, unlessDoneMeanwhile } from './vm.ts';

/**
 * Change of recovery point before commit (the way out after replicated ransomware), as Hyper-V
 * does it on the replica: turn the failed-over VM off, Stop-VMFailover (back to replica state,
 * recovery points kept), Start-VMFailover from the chosen point, attach the mapped network. The
 * job's boot and readiness steps start it again. A VM this execution already failed over (it holds
 * this execution's epoch and waits for completion) is not failed over twice.
 */
export async function changePointHandler(ctx: HandlerContext): Promise<HandlerOutcome> {
  const vm = requireVm(ctx);
  const where = { step: ctx.step, site: ctx.job.site, vm };
  let view = await mustGetVm(ctx, vm);
  const repl = view.replication;
  if (repl === null) {
    throw new StepError('INVALID_STATE', `${ctx.step}: ${vm} at ${ctx.job.site} is not replicated`, where);
  }
  if (repl.state === 'FailedOver' || repl.mode === 'Primary') {
    throw new StepError(
      'PAST_POINT_OF_NO_RETURN',
      `${ctx.step}: ${vm} at ${ctx.job.site} is committed or reversed (${describe(view)}); its other recovery points are gone — the point cannot be changed`,
      where,
    );
  }
  const previous = view.recoveryPoint;
  const mine = repl.state === 'FailedOverWaitingCompletion' && view.epoch >= ctx.job.epoch;
  let point: RecoveryPoint | undefined = mine ? view.recoveryPoint : undefined;
  let mutated = false;
  if (!mine) {
    if (repl.state === 'FailedOverWaitingCompletion') {
      if (view.state !== 'Off') {
        const stop = await unlessDoneMeanwhile(
          () => ctx.api.stopVM({ ...mutation(ctx, vm), turnOff: true }),
          () => mustGetVm(ctx, vm),
          (now) => now.state === 'Off',
        );
        view = 'result' in stop ? stop.result : stop.meanwhile;
      }
      view = await ctx.api.stopVMFailover(mutation(ctx, vm));
    }
    const result = await ctx.api.startVMFailover({
      ...mutation(ctx, vm),
      mode: 'failover',
      recoveryPoint: selector(ctx),
    });
    view = result.vm;
    point = result.recoveryPoint ?? view.recoveryPoint;
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
  const output: Record<string, unknown> = {
    ...(previous ? { previousPoint: previous } : {}),
    ...(point ? { recoveryPoint: point } : {}),
  };
  const outcome: HandlerOutcome = { outcome: 'done', mutated, output, view };
  return point ? { ...outcome, recoveryPoint: point } : outcome;
}

function selector(ctx: HandlerContext): RecoveryPointSelector {
  return ctx.job.recoveryPoint ?? { kind: 'latest' };
}
