import type { VmView } from '../../hosts/index.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError } from './errors.ts';
import { describe } from './shutdown.ts';
import { mustGetVm, mutation, requireVm, sleep, unlessDoneMeanwhile } from './vm.ts';

/**
 * Resync throughput assumed for the estimate shown before a resync starts (bytes/s): the hosts do
 * not report the link's bandwidth. The resync step reports the time it really took.
 * @defaultValue 100 MB/s, or DR_RESYNC_BYTES_PER_SEC
 */
export function assumedResyncBytesPerSec(): number {
  const fromEnv = Number(process.env.DR_RESYNC_BYTES_PER_SEC);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 100 * 1024 * 1024;
}

/** Longest wait for a reversed replication to become healthy before the step fails (retryable). */
const RESYNC_WAIT_MS = 24 * 3_600_000;

/** True when the VM at this site is the primary of a replication towards `replicaSite`. */
function isReversed(view: VmView, replicaSite: string): boolean {
  const repl = view.replication;
  return repl !== null && repl.mode === 'Primary' && repl.replicaSite === replicaSite;
}

/**
 * Reprotect at the site the VM failed over to: Set-VMReplication -Reverse, so that the recovered
 * VM replicates back to its old site (which becomes its replica). After a planned failover nothing
 * needs resending; after an unplanned one the writes either side made after the fork are
 * resynchronized. The step reports that size and an estimate of its time. Already reversed: no call.
 */
export async function reprotectHandler(ctx: HandlerContext): Promise<HandlerOutcome> {
  const vm = requireVm(ctx);
  const where = { step: ctx.step, site: ctx.job.site, vm };
  const oldSite = ctx.job.fromSite;
  const view = await mustGetVm(ctx, vm);
  if (isReversed(view, oldSite)) {
    return { outcome: 'done', mutated: false, output: { reversed: true, already: true }, view };
  }
  const state = view.replication?.state;
  if (state !== 'FailedOverWaitingCompletion' && state !== 'FailedOver') {
    throw new StepError(
      'NOT_FAILED_OVER',
      `${ctx.step}: ${vm} at ${ctx.job.site} has not failed over (${describe(view)}); only a failed-over VM can be reprotected`,
      where,
    );
  }
  const reversed = await unlessDoneMeanwhile(
    () => ctx.api.reverseVMReplication(mutation(ctx, vm)),
    () => mustGetVm(ctx, vm),
    (now) => isReversed(now, oldSite),
  );
  const resyncBytes = 'result' in reversed ? reversed.result.resyncBytes : 0;
  const after = 'result' in reversed ? reversed.result.vm : reversed.meanwhile;
  const estimateMs = Math.ceil((resyncBytes * 1000) / assumedResyncBytesPerSec());
  return {
    outcome: 'done',
    mutated: true,
    output: { reversed: true, replicaSite: oldSite, resyncBytes, resyncEstimateMs: estimateMs },
    view: after,
  };
}

/**
 * Follow the reversed replication until its health is Normal (resynchronized, replicating). A
 * replication that needs a resync to be started (its change log outgrew the disk's half while the
 * link was down) gets one (Resume-VMReplication -Resynchronize).
 */
export async function resyncHandler(ctx: HandlerContext): Promise<HandlerOutcome> {
  const vm = requireVm(ctx);
  const where = { step: ctx.step, site: ctx.job.site, vm };
  const started = Date.now();
  let view = ctx.known?.name === vm ? ctx.known : await mustGetVm(ctx, vm);
  let pause = ctx.options.pollIntervalMs;
  let resumed = false;
  let seenResync = false;
  for (;;) {
    const repl = view.replication;
    if (repl === null || repl.mode !== 'Primary') {
      throw new StepError(
        'NOT_REVERSED',
        `${ctx.step}: ${vm} at ${ctx.job.site} is not the primary of a reversed replication (${describe(view)})`,
        where,
      );
    }
    if (repl.state === 'Resynchronizing') seenResync = true;
    if (repl.health === 'Normal' && repl.state === 'Replicating') {
      return {
        outcome: 'done',
        mutated: resumed,
        output: {
          health: repl.health,
          replicaSite: repl.replicaSite,
          waitedMs: Date.now() - started,
          resynchronized: seenResync || resumed,
        },
        view,
      };
    }
    if (repl.state === 'WaitingForStartResynchronize' && !resumed) {
      view = await ctx.api.resyncVMReplication(mutation(ctx, vm));
      resumed = true;
      continue;
    }
    if (Date.now() - started > RESYNC_WAIT_MS) {
      throw new StepError(
        'RESYNC_TIMEOUT',
        `${ctx.step}: the reversed replication of ${vm} is still ${repl.state}/${repl.health} after ${RESYNC_WAIT_MS / 3_600_000} h; check the link to ${repl.replicaSite}`,
        where,
        { retryable: true },
      );
    }
    await sleep(pause, ctx.signal);
    pause = Math.min(Math.ceil(pause * 1.5), 1000);
    view = await mustGetVm(ctx, vm);
  }
}
