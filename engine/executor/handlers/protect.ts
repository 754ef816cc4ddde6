import type { AutomaticStartAction, VmView } from '../../hosts/index.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError, toStepError } from './errors.ts';
import { mustGetVm, requireVm } from './vm.ts';

/**
 * Protect at the site where the VM runs as the primary: Set-VM -AutomaticStartAction, only when
 * Get-VM shows another action (a repeat, or a VM that has it already, makes no mutating call).
 *
 * The call carries the VM's own epoch (Get-VM's), not the execution's. Setting the action is not
 * an operation on the VM's place: raising its epoch would tell a failover's late fence and the
 * agent's fence sweep that a newer execution (a failback, a cancel) took the VM back, and they
 * would leave an old primary unfenced. A newer epoch arriving between the read and the call is
 * the host's STALE_EPOCH, a failed step.
 */
export async function protectHandler(ctx: HandlerContext): Promise<HandlerOutcome> {
  const vm = requireVm(ctx);
  const action = ctx.job.automaticStartAction;
  const where = { step: ctx.step, site: ctx.job.site, vm };
  if (action === undefined) {
    throw new StepError('BAD_JOB', `${ctx.step}: job ${ctx.jobId} names no automatic start action`, where);
  }
  const view = await mustGetVm(ctx, vm);
  const before = view.automaticStartAction;
  const output = (after: AutomaticStartAction, changed: boolean) => ({
    vm,
    site: ctx.job.site,
    host: view.host,
    before,
    after,
    changed,
  });
  if (!isPrimary(view)) {
    throw new StepError(
      'NOT_PRIMARY',
      `${ctx.step}: ${vm} at ${ctx.job.site} is not its primary now (${view.isTest ? 'a test VM' : `replication ${view.replication?.mode ?? 'None'}`}): it moved since the protect was submitted; run drctl protect again`,
      where,
      { output: { vm, site: ctx.job.site, before } },
    );
  }
  if (before === action) return { outcome: 'done', mutated: false, output: output(action, false), view };
  let after: VmView;
  try {
    after = await ctx.api.setVMAutomaticStartAction({ site: ctx.job.site, vm, epoch: view.epoch, action });
  } catch (error) {
    // The host's answer is the step's error (its code kept), with what the read showed before.
    const failed = toStepError(error, where);
    throw new StepError(failed.code, failed.message, where, {
      retryable: failed.retryable,
      cause: error,
      output: { vm, site: ctx.job.site, before },
    });
  }
  return { outcome: 'done', mutated: true, output: output(after.automaticStartAction, true), view: after };
}

/** The production VM of its replication (or of none): what Hyper-V starts when its host returns. */
export function isPrimary(view: VmView): boolean {
  const mode = view.replication?.mode ?? 'None';
  return !view.isTest && (mode === 'Primary' || mode === 'None');
}
