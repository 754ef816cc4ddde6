import { pointFor, type RecoveryPoint, type RecoveryPointSelector, type VmView } from '../../hosts/index.ts';
import { bootHandler } from './boot.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError, simErrorCode } from './errors.ts';
import { claimFor } from './failover.ts';
import { describeSelector, requireUncommittedReplica } from './revert.ts';
import { mustGetVm, mutation, requireVm, unlessDoneMeanwhile } from './vm.ts';

/**
 * Change of recovery point before commit (the way out after replicated ransomware), second half:
 * the job's `<vm>/revert` step has turned the failed-over VM off and returned it to replica state
 * (Stop-VMFailover, recovery points kept); this step fails it over again from the chosen point and
 * attaches the mapped network. The job's boot and readiness steps start it. A replica found failed
 * over here is this execution's own failover (the revert was recorded before this step ran): it is
 * not failed over twice, unless it runs from another point than the one asked for (a fall-back,
 * below), which fails the step again rather than passing it off as changed.
 *
 * When the failover from the new point fails (the host refused, the point vanished), the VM is
 * put back as it ran (`putBack`): failed over from the point the revert reported and started, and
 * the step fails saying so. The same holds when its boot or readiness fails on the new point
 * (dispatch.ts calls `putBack` for those steps of a change of point). Never off in both sites
 * because of the change.
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
  const wanted = selector(ctx);
  const lastReplicationTime = view.replication?.lastReplicationTime;
  if (repl.state === 'FailedOverWaitingCompletion') {
    await requireRunsFrom(ctx, vm, view, wanted);
  } else {
    try {
      const failover = await unlessDoneMeanwhile(
        () => ctx.api.startVMFailover({ ...mutation(ctx, vm), mode: 'failover', recoveryPoint: wanted }),
        () => mustGetVm(ctx, vm),
        (now) => now.replication?.state === 'FailedOverWaitingCompletion',
      );
      if ('result' in failover) {
        view = failover.result.vm;
        point = failover.result.recoveryPoint;
      } else view = failover.meanwhile;
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return await fallBack(ctx, vm, error);
    }
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

/**
 * A replica already failed over when this step runs: this execution's failover, unless it runs
 * from another point than the one asked for (checked where the choice names one point: `at`,
 * `latestAppConsistent`, an id; `latest` is the newest point either way).
 */
async function requireRunsFrom(
  ctx: HandlerContext,
  vm: string,
  view: VmView,
  wanted: RecoveryPointSelector,
): Promise<void> {
  if (wanted.kind === 'latest' || wanted.kind === 'latestProcessed') return;
  const current = view.recoveryPoint;
  if (current === undefined) return;
  const expected = pointFor(wanted, await ctx.api.getRecoveryPoints(ctx.job.site, vm));
  if (expected === undefined || expected.id === current.id) return;
  throw new StepError(
    'CHANGE_POINT_NOT_APPLIED',
    `${ctx.step}: ${vm} at ${ctx.job.site} runs from ${current.id} @ ${current.time}, not from ${expected.id} (${describeSelector(wanted)}); change its point again (\`drctl change-point\`)`,
    { step: ctx.step, site: ctx.job.site, vm },
  );
}

/**
 * The failover from the new point failed after the revert: put the VM back (below), then fail
 * the step saying where it runs.
 */
async function fallBack(ctx: HandlerContext, vm: string, error: unknown): Promise<never> {
  const why = `${simErrorCode(error) ?? 'ERROR'}: ${error instanceof Error ? error.message : String(error)}`;
  const failure = new StepError(
    'CHANGE_POINT_FAILED',
    `${ctx.step}: failing ${vm} over from ${describeSelector(selector(ctx))} failed (${why})`,
    { step: ctx.step, site: ctx.job.site, vm },
    { cause: error },
  );
  throw await putBack(ctx, failure);
}

/**
 * A change of point failed after the VM's revert (its failover from the new point, or its boot or
 * readiness on it): fail the VM over again from the point it ran from (reported by the job's
 * revert step), reattach its network and start it. Returns the step's error, saying where the VM
 * runs now. Without a known previous point (a repeated job whose revert was done by an earlier
 * run) it cannot be put back, and the error says so.
 */
export async function putBack(ctx: HandlerContext, failure: StepError): Promise<StepError> {
  const vm = requireVm(ctx);
  const where = { step: ctx.step, site: ctx.job.site, vm };
  const previous = previousPointOf(ctx, vm);
  if (previous === undefined) {
    return new StepError(
      failure.code,
      `${failure.message}; the point ${vm} ran from is not known to this run, so it is not put back: fail it over from a point (\`drctl change-point\`) or start it at ${ctx.job.site}`,
      where,
      { cause: failure },
    );
  }
  try {
    let view = await mustGetVm(ctx, vm);
    const repl = view.replication;
    if (repl?.state === 'FailedOverWaitingCompletion' && view.recoveryPoint?.id !== previous.id) {
      if (view.state !== 'Off') view = await ctx.api.stopVM({ ...mutation(ctx, vm), turnOff: true });
      view = await ctx.api.stopVMFailover(mutation(ctx, vm));
    }
    if (view.replication?.state !== 'FailedOverWaitingCompletion') {
      view = (
        await ctx.api.startVMFailover({
          ...mutation(ctx, vm),
          mode: 'failover',
          recoveryPoint: { kind: 'id', id: previous.id },
        })
      ).vm;
    }
    const network = ctx.job.network;
    if (network !== undefined && view.network?.network !== network.network)
      view = await ctx.api.connectVMNetwork({ ...mutation(ctx, vm), ...network });
    await bootHandler({ ...ctx, known: view });
  } catch (again) {
    if (ctx.signal.aborted) throw again;
    return new StepError(
      'CHANGE_POINT_FAILED',
      `${failure.message}; putting ${vm} back on ${previous.id} failed too (${again instanceof Error ? again.message : String(again)}): it is off at ${ctx.job.site}`,
      where,
      { cause: again },
    );
  }
  return new StepError(
    'CHANGE_POINT_FAILED',
    `${failure.message}; ${vm} was put back on the point it ran from, ${previous.id} @ ${previous.time}, and started at ${ctx.job.site}`,
    where,
    { output: { restoredPoint: previous }, cause: failure },
  );
}

/** The point the job's revert step reported the VM ran from. */
function previousPointOf(ctx: HandlerContext, vm: string): RecoveryPoint | undefined {
  const point = ctx.earlier?.[`${vm}/revert`]?.previousPoint;
  if (typeof point !== 'object' || point === null) return undefined;
  const { id, time, kind } = point as Record<string, unknown>;
  if (typeof id !== 'string' || typeof time !== 'string') return undefined;
  return { id, time, kind: kind === 'appConsistent' || kind === 'standard' ? kind : 'latest' };
}
