import type { VmView } from '../../hosts/index.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError } from './errors.ts';
import { describe } from './shutdown.ts';
import { mustGetVm, mutation, requireVm, unlessDoneMeanwhile } from './vm.ts';

/**
 * Commit at the recovery site: Complete-VMFailover on the failed-over replica, which discards its
 * other recovery points (the failover can no longer be moved to another point or cancelled). A VM
 * already completed, or already reversed (a reverse completes the failover too), needs nothing.
 */
export async function commitHandler(ctx: HandlerContext): Promise<HandlerOutcome> {
  const vm = requireVm(ctx);
  const view = await mustGetVm(ctx, vm);
  if (isCommitted(view)) {
    return { outcome: 'done', mutated: false, output: { committed: true, already: true }, view };
  }
  if (view.replication?.state !== 'FailedOverWaitingCompletion') {
    throw new StepError(
      'NOT_FAILED_OVER',
      `${ctx.step}: ${vm} at ${ctx.job.site} has no failover waiting for completion (${describe(view)}); only a failed-over VM can be committed`,
      { step: ctx.step, site: ctx.job.site, vm },
    );
  }
  const point = view.recoveryPoint;
  const done = await unlessDoneMeanwhile(
    () => ctx.api.completeVMFailover(mutation(ctx, vm)),
    () => mustGetVm(ctx, vm),
    isCommitted,
  );
  const after = 'result' in done ? done.result : done.meanwhile;
  return {
    outcome: 'done',
    mutated: true,
    output: { committed: true, ...(point ? { recoveryPoint: point } : {}) },
    view: after,
  };
}

/** Completed (FailedOver), or already the primary of a reversed replication. */
export function isCommitted(view: VmView): boolean {
  const repl = view.replication;
  if (repl === null) return false;
  return repl.state === 'FailedOver' || (repl.mode === 'Primary' && view.site === repl.primarySite);
}
