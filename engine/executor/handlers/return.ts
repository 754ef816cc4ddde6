import type { RecoveryPoint, RecoveryPointSelector, VmView } from '../../hosts/index.ts';
import { bootHandler } from './boot.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError, simErrorCode } from './errors.ts';
import { describeSelector, requireUncommittedReplica, UNREACHABLE } from './revert.ts';
import { mustGetVm, mutation, requireVm, unlessDoneMeanwhile } from './vm.ts';

/** The warning of a return that found the primary running at the source after all (vm-machine.ts). */
export const PRIMARY_BACK = 'PRIMARY_BACK';

/**
 * Cancel, replica side again (the failover's target site), only after the VM's restore could not
 * reach the source (orchestrator/conditional-steps.ts): the replica is off, a replica again, and
 * the primary did not start, so the VM runs nowhere. Bring it back where it ran: Start-VMFailover
 * from the point it ran from (the job's `recoveryPoint`, recorded by the revert; `latest` when the
 * run does not know it), the mapped network, Start-VM. The job runs under the cancel's return epoch
 * (newer than the cancel's own). Read first:
 *
 * - the primary at the source: running after all (its site came back) → nothing to do here, the
 *   step warns PRIMARY_BACK and the VM counts as home. Answering but off → fenced under the return
 *   epoch before the replica starts: a restore of the cancel still on its way is refused there.
 *   Not answering → the replica starts all the same (that is what the step is for); the engine's
 *   failed-over record (written when the cancel ends) lets the source's agent fence the old
 *   primary if it runs when the site is back, and the restore reads the replica first.
 * - the replica: failed over already (a repeated job) → not failed over twice; running → not
 *   started twice.
 */
export async function returnHandler(ctx: HandlerContext): Promise<HandlerOutcome> {
  const vm = requireVm(ctx);
  let view = await mustGetVm(ctx, vm);
  const repl = requireUncommittedReplica(ctx, vm, view, 'it is past the point where it could be rolled back');
  let mutated = false;
  let point: RecoveryPoint | undefined;
  let source: SourceRead = { answers: false, why: 'not read: the replica was failed over again already' };
  if (repl.state !== 'FailedOverWaitingCompletion') {
    source = await readSource(ctx, vm);
    if (source.runs) {
      return {
        outcome: 'warned',
        mutated: false,
        output: { returned: false, reason: source.why },
        view,
        error: {
          code: PRIMARY_BACK,
          message: `${ctx.step}: the primary of ${vm} runs at ${ctx.job.fromSite} after all (${source.why}); its replica at ${ctx.job.site} stays off`,
          retryable: false,
        },
      };
    }
    if (source.fenced) mutated = true;
    const failedOver = await failOverAgain(ctx, vm);
    view = failedOver.view;
    point = failedOver.point;
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
  const boot = await bootHandler({ ...ctx, known: view });
  const from = point ?? view.recoveryPoint;
  const output: Record<string, unknown> = {
    ...boot.output,
    returned: true,
    sourceFenced: source.fenced === true,
    why: source.why,
    ...(from ? { recoveryPoint: from } : {}),
  };
  return {
    outcome: 'done',
    mutated: mutated || boot.mutated,
    output,
    ...(boot.view ? { view: boot.view } : {}),
    detail: `runs at ${ctx.job.site} again${from ? ` from ${from.id} @ ${from.time}` : ''}: its primary at ${ctx.job.fromSite} could not be restarted (${source.why}); the cancel did not complete for ${vm} — cancel again once ${ctx.job.fromSite} is back, or commit`,
  };
}

interface SourceRead {
  answers: boolean;
  /** The primary runs (Running or Starting) at the source. */
  runs?: boolean;
  /** This step fenced it there (off, and barred under the return epoch). */
  fenced?: boolean;
  why: string;
}

/** The primary at the source, fenced when it answers and is off. */
async function readSource(ctx: HandlerContext, vm: string): Promise<SourceRead> {
  const site = ctx.job.fromSite;
  let primary: VmView;
  try {
    primary = await ctx.api.getVM(site, vm);
  } catch (error) {
    const code = simErrorCode(error);
    if (code === undefined || !UNREACHABLE.has(code)) throw error;
    return { answers: false, why: `${site} does not answer: ${code}` };
  }
  if (primary.state === 'Running' || primary.state === 'Starting')
    return { answers: true, runs: true, why: `it is ${primary.state} there` };
  if (primary.epoch > ctx.job.epoch) {
    throw new StepError(
      'STALE_EPOCH',
      `${ctx.step}: the primary of ${vm} at ${site} accepted a newer epoch (${primary.epoch}) than this return's (${ctx.job.epoch}); a later execution owns it`,
      { step: ctx.step, site: ctx.job.site, vm },
    );
  }
  try {
    await ctx.api.fenceVM({ site, vm, epoch: ctx.job.epoch });
  } catch (error) {
    const code = simErrorCode(error);
    if (code === undefined || !UNREACHABLE.has(code)) throw error;
    return { answers: false, why: `${site} stopped answering: ${code}` };
  }
  return { answers: true, fenced: true, why: `it was off there and is fenced now` };
}

/**
 * Start-VMFailover from the point the VM ran from; when that point is gone, from the latest (a VM
 * running from a newer point beats a VM running nowhere), said in the step's output.
 */
async function failOverAgain(
  ctx: HandlerContext,
  vm: string,
): Promise<{ view: VmView; point?: RecoveryPoint }> {
  const from = ctx.job.fromPoint;
  const wanted: RecoveryPointSelector = from ? { kind: 'id', id: from.id } : { kind: 'latest' };
  const start = async (selector: RecoveryPointSelector) => {
    const failover = await unlessDoneMeanwhile(
      () => ctx.api.startVMFailover({ ...mutation(ctx, vm), mode: 'failover', recoveryPoint: selector }),
      () => mustGetVm(ctx, vm),
      (now) => now.replication?.state === 'FailedOverWaitingCompletion',
    );
    return 'result' in failover
      ? { view: failover.result.vm, point: failover.result.recoveryPoint }
      : { view: failover.meanwhile };
  };
  try {
    return await start(wanted);
  } catch (error) {
    if (simErrorCode(error) !== 'NO_RECOVERY_POINT' || wanted.kind === 'latest') throw error;
    ctx.log.warn(
      { wanted: describeSelector(wanted) },
      'the point the VM ran from is gone; returning it on latest',
    );
    return await start({ kind: 'latest' });
  }
}
