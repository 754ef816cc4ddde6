import type { VmView } from '../../hosts/index.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError } from './errors.ts';
import { recordSighting } from './sighting.ts';
import { mustGetVm, mutation, requireVm, sleep, unlessDoneMeanwhile } from './vm.ts';

/** Longest wait for a guest shutdown (Stop-VM) to finish before the step is retried. */
const STOP_WAIT_MS = 10 * 60_000;

/**
 * Planned failover, first half, at the source site: shut the primary VM down (Stop-VM), then
 * Start-VMFailover -Prepare, which sends every pending write to the replica and bars the primary
 * from starting. A VM already PreparedForFailover is left alone.
 */
export async function shutdownHandler(ctx: HandlerContext): Promise<HandlerOutcome> {
  const vm = requireVm(ctx);
  const where = { step: ctx.step, site: ctx.job.site, vm };
  let view = await mustGetVm(ctx, vm);
  if (view.replication?.state === 'PreparedForFailover') {
    // Prepared before (a repeat, or by hand): the first run recorded the shutdown, or nobody did —
    // a time read now would postdate the -Prepare and prove nothing (failover.ts proveZeroLoss).
    return { outcome: 'done', mutated: false, output: { stopped: false, prepared: false } };
  }
  if (view.replication === null || view.replication.mode !== 'Primary') {
    throw new StepError(
      'INVALID_STATE',
      `${ctx.step}: ${vm} at ${ctx.job.site} is not a replication primary (${describe(view)}); a planned failover needs replication running from ${ctx.job.site}`,
      where,
    );
  }
  let stopped = false;
  const reread = (): Promise<VmView> => mustGetVm(ctx, vm);
  if (view.state === 'Running' || view.state === 'Starting') {
    ctx.log.debug({ state: view.state }, 'stopping the primary');
    const stop = await unlessDoneMeanwhile(
      () => ctx.api.stopVM(mutation(ctx, vm)),
      reread,
      (now) => now.state === 'Off' || now.state === 'Stopping',
    );
    view = 'result' in stop ? stop.result : stop.meanwhile;
    stopped = true;
  }
  view = await waitUntilOff(ctx, vm, view);
  // The shutdown time: the planned failover proves its zero loss against it (failover.ts).
  const offAt = await recordSighting(ctx, ctx.job.site, vm, stopped ? 'shutdown' : 'read');
  ctx.log.debug('preparing the primary for failover');
  await unlessDoneMeanwhile(
    () => ctx.api.startVMFailover({ ...mutation(ctx, vm), mode: 'prepare' }),
    reread,
    (now) => now.replication?.state === 'PreparedForFailover',
  );
  return {
    outcome: 'done',
    mutated: true,
    output: { stopped, prepared: true, ...(offAt === undefined ? {} : { offAt }) },
  };
}

async function waitUntilOff(ctx: HandlerContext, vm: string, first: VmView): Promise<VmView> {
  let view = first;
  let pause = ctx.options.pollIntervalMs;
  const deadline = Date.now() + STOP_WAIT_MS;
  while (view.state !== 'Off') {
    if (Date.now() > deadline) {
      throw new StepError(
        'SHUTDOWN_TIMEOUT',
        `${ctx.step}: ${vm} at ${ctx.job.site} did not turn off within ${STOP_WAIT_MS / 1000}s of Stop-VM`,
        { step: ctx.step, site: ctx.job.site, vm },
        { retryable: true },
      );
    }
    await sleep(pause, ctx.signal);
    pause = Math.min(Math.ceil(pause * 1.5), 1000);
    view = await mustGetVm(ctx, vm);
  }
  return view;
}

export function describe(view: VmView): string {
  const repl = view.replication;
  return `power ${view.state}, replication ${repl ? `${repl.mode}/${repl.state}` : 'none'}`;
}
