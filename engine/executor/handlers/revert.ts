import { pointFor, type RecoveryPoint, type RecoveryPointSelector, type VmView } from '../../hosts/index.ts';
import { bootHandler } from './boot.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError, simErrorCode } from './errors.ts';
import { describe } from './shutdown.ts';
import { findVm, mustGetVm, mutation, requireVm, unlessDoneMeanwhile } from './vm.ts';

/**
 * The replica of a failover not yet committed: replicated, and neither committed (its other
 * recovery points are gone) nor the primary of a reversed replication. Otherwise the step is past
 * the point of no return and fails saying `instead` (what the operator can do).
 */
export function requireUncommittedReplica(
  ctx: HandlerContext,
  vm: string,
  view: VmView,
  instead: string,
): NonNullable<VmView['replication']> {
  const where = { step: ctx.step, site: ctx.job.site, vm };
  const repl = view.replication;
  if (repl === null) {
    throw new StepError('INVALID_STATE', `${ctx.step}: ${vm} at ${ctx.job.site} is not replicated`, where);
  }
  if (repl.state === 'FailedOver' || repl.mode === 'Primary') {
    const what = repl.state === 'FailedOver' ? 'committed' : 'already the primary of a reversed replication';
    throw new StepError(
      'PAST_POINT_OF_NO_RETURN',
      `${ctx.step}: ${vm} at ${ctx.job.site} is ${what} (${describe(view)}); ${instead}`,
      where,
    );
  }
  return repl;
}

/**
 * The source's primary of `vm` answers and is there to restart: else the cancel's revert fails
 * (retryable) before it turns the replica off, so the VM runs on at the recovery site.
 */
async function requireSourceBack(ctx: HandlerContext, vm: string): Promise<void> {
  const source = ctx.job.fromSite;
  const where = { step: ctx.step, site: ctx.job.site, vm };
  let primary: VmView | undefined;
  try {
    primary = await ctx.api.getVM(source, vm);
  } catch (error) {
    const code = simErrorCode(error);
    if (code !== 'VM_NOT_FOUND' && (code === undefined || !UNREACHABLE.has(code))) throw error;
    primary = undefined;
  }
  if (primary === undefined) {
    throw new StepError(
      'SOURCE_UNREACHABLE',
      `${ctx.step}: the primary of ${vm} at ${source} does not answer; its replica keeps running at ${ctx.job.site} rather than be turned off with nothing to restart — bring ${source} back, then retry the cancel`,
      where,
      { retryable: true },
    );
  }
}

/**
 * Cancel, replica side (the failover's target site): turn the failed-over VM off and
 * Stop-VMFailover, which returns it to replica state with its recovery points (the ledger records
 * the failover as cancelled). A replica that is replicating already needs nothing. A committed or
 * reversed VM is past the point of no return: the step fails and says to fail back instead.
 *
 * For a change of point, the first half: the point asked for must be among the VM's recovery
 * points before the VM is turned off (else the step fails and nothing changed: it runs on), and
 * the point it ran from is reported (`previousPoint`) for the change-point step to fall back to.
 */
export async function revertHandler(ctx: HandlerContext): Promise<HandlerOutcome> {
  const vm = requireVm(ctx);
  let view = await mustGetVm(ctx, vm);
  const changing = ctx.job.type === 'change-point';
  const repl = requireUncommittedReplica(
    ctx,
    vm,
    view,
    changing
      ? 'its other recovery points are gone — the point cannot be changed'
      : 'it cannot be rolled back — fail back instead (`drctl reprotect`, then `drctl failback`)',
  );
  if (repl.state !== 'FailedOverWaitingCompletion') {
    return { outcome: 'done', mutated: false, output: { reverted: false, state: repl.state }, view };
  }
  const previousPoint = view.recoveryPoint;
  if (changing) await requirePoint(ctx, vm, view);
  // A cancel turns the running replica off only while its primary can come back at the source:
  // a source lost since the cancel's pre-flight would leave the VM off in both sites.
  if (ctx.job.type === 'cancel' && view.state !== 'Off') await requireSourceBack(ctx, vm);
  let stopped = false;
  if (view.state !== 'Off') {
    const stop = await unlessDoneMeanwhile(
      () => ctx.api.stopVM({ ...mutation(ctx, vm), turnOff: true }),
      () => mustGetVm(ctx, vm),
      (now) => now.state === 'Off',
    );
    view = 'result' in stop ? stop.result : stop.meanwhile;
    stopped = true;
  }
  const cancelled = await unlessDoneMeanwhile(
    () => ctx.api.stopVMFailover(mutation(ctx, vm)),
    () => mustGetVm(ctx, vm),
    (now) => now.replication?.state !== 'FailedOverWaitingCompletion',
  );
  view = 'result' in cancelled ? cancelled.result : cancelled.meanwhile;
  const output: Record<string, unknown> = { reverted: true, stopped };
  if (previousPoint !== undefined) output.previousPoint = previousPoint;
  // A cancel's VM machine keeps the point: a return fails the VM over from it again (return.ts).
  if (ctx.job.type === 'cancel' && previousPoint !== undefined)
    return { outcome: 'done', mutated: true, output, view, recoveryPoint: previousPoint };
  return { outcome: 'done', mutated: true, output, view };
}

/** The change of point's target must exist before the VM is turned off. */
async function requirePoint(ctx: HandlerContext, vm: string, view: VmView): Promise<RecoveryPoint> {
  const wanted = ctx.job.recoveryPoint ?? { kind: 'latest' };
  const point = pointFor(wanted, await ctx.api.getRecoveryPoints(ctx.job.site, vm));
  if (point === undefined) {
    throw new StepError(
      'NO_RECOVERY_POINT',
      `${ctx.step}: ${vm} at ${ctx.job.site} has no recovery point matching ${describeSelector(wanted)}; nothing was changed, it still runs${view.recoveryPoint ? ` from ${view.recoveryPoint.id}` : ''}`,
      { step: ctx.step, site: ctx.job.site, vm },
    );
  }
  return point;
}

export function describeSelector(selector: RecoveryPointSelector): string {
  switch (selector.kind) {
    case 'at':
      return `at ${selector.at}`;
    case 'id':
      return selector.id;
    default:
      return selector.kind;
  }
}

/** How long a restarted primary's guest has to answer (simulated / host time). */
const RESTART_WAIT_MS = 10 * 60_000;

/** Site trouble that a rollback lives with: the old primary is restarted when its site is back. */
export const UNREACHABLE = new Set(['SITE_UNREACHABLE', 'HOST_DOWN']);

/**
 * Cancel, primary side (the failover's source site): a primary prepared for a planned failover is
 * released (Stop-VMFailover) and the primary started again (Start-VM under this execution's epoch,
 * which also lifts a fence). When the source cannot be reached (it died after the revert) the step
 * warns PRIMARY_UNREACHABLE: the replica is already a replica again, so the VM runs nowhere, and
 * the cancel's `<vm>/return` brings it back up at the target (return.ts). A restore that finds
 * the replica failed over again there (that return ran; this job came late) starts nothing.
 */
export async function restoreHandler(ctx: HandlerContext): Promise<HandlerOutcome> {
  const vm = requireVm(ctx);
  const where = { step: ctx.step, site: ctx.job.site, vm };
  let view: VmView | undefined;
  try {
    view = await findVm(ctx, vm);
  } catch (error) {
    const code = simErrorCode(error);
    if (code === undefined || !UNREACHABLE.has(code)) throw error;
    return unreachable(ctx, vm, error);
  }
  if (view === undefined) {
    throw new StepError(
      'VM_NOT_FOUND',
      `${ctx.step}: the primary of ${vm} is not at ${ctx.job.site}; start it where it lives`,
      where,
    );
  }
  if (view.replication !== null && view.replication.mode !== 'Primary') {
    throw new StepError(
      'PAST_POINT_OF_NO_RETURN',
      `${ctx.step}: ${vm} at ${ctx.job.site} is no longer the primary (${describe(view)}); the replication was reversed — fail back instead`,
      where,
    );
  }
  await refuseWhileReturned(ctx, vm);
  let released = false;
  if (view.replication?.state === 'PreparedForFailover') {
    const release = await unlessDoneMeanwhile(
      () => ctx.api.stopVMFailover(mutation(ctx, vm)),
      () => mustGetVm(ctx, vm),
      (now) => now.replication?.state !== 'PreparedForFailover',
    );
    view = 'result' in release ? release.result : release.meanwhile;
    released = true;
  }
  try {
    const boot = await bootHandler({ ...ctx, known: view });
    // Back means running again: wait for the guest (simulated time on the hosts' clock).
    const heartbeat = await ctx.api.waitForHeartbeat(ctx.job.site, vm, RESTART_WAIT_MS);
    const output = { ...boot.output, released, heartbeat: heartbeat.ok };
    const mutated = boot.mutated || released;
    if (heartbeat.ok) return { ...boot, mutated, output };
    return {
      outcome: 'warned',
      mutated,
      output,
      error: {
        code: 'NO_HEARTBEAT',
        message: `${ctx.step}: the primary of ${vm} at ${ctx.job.site} was started but its guest did not answer within ${RESTART_WAIT_MS / 60_000} min; check it there`,
        retryable: false,
      },
    };
  } catch (error) {
    const code = simErrorCode(error);
    if (code !== undefined && UNREACHABLE.has(code)) return unreachable(ctx, vm, error);
    throw error;
  }
}

/**
 * The replica at the recovery site failed over again (the cancel's return brought the VM back up
 * there after this restore could not reach the source): this is a restore of the cancel on its
 * way late (its site came back), and starting the primary would run the VM in two sites. The
 * restore fails, not retryable, with nothing changed. A recovery site that does not answer is no
 * reason to leave the VM off: the revert turned the replica off just before.
 */
async function refuseWhileReturned(ctx: HandlerContext, vm: string): Promise<void> {
  let replica: VmView;
  try {
    replica = await ctx.api.getVM(ctx.job.toSite, vm);
  } catch (error) {
    const code = simErrorCode(error);
    if (code === 'VM_NOT_FOUND' || (code !== undefined && UNREACHABLE.has(code))) return;
    throw error;
  }
  if (replica.replication?.state !== 'FailedOverWaitingCompletion') return;
  throw new StepError(
    'RUNS_AT_TARGET',
    `${ctx.step}: ${vm} is failed over at ${ctx.job.toSite} again (${describe(replica)}); its primary at ${ctx.job.site} is not started beside it — cancel the failover again to bring it home`,
    { step: ctx.step, site: ctx.job.site, vm },
  );
}

function unreachable(ctx: HandlerContext, vm: string, error: unknown): HandlerOutcome {
  const message = `${ctx.step}: the primary of ${vm} at ${ctx.job.site} cannot be reached (${error instanceof Error ? error.message : String(error)}); its replica is a replica again, so it runs nowhere: the cancel's return brings it back up at ${ctx.job.toSite}`;
  return {
    outcome: 'warned',
    mutated: false,
    output: { restarted: false, unreachable: true },
    // Not rolled back: off in both sites until the return (vm-machine.ts `unrestored`).
    phase: 'rolling-back',
    error: { code: 'PRIMARY_UNREACHABLE', message, retryable: false },
  };
}
