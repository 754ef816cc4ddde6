import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError, simErrorCode } from './errors.ts';
import { recordStarted } from './sighting.ts';
import { mustGetVm, mutation, requireVm, siteVmName, sleep } from './vm.ts';

/** Longest pause between two boot attempts while the host is at its concurrent-boot limit. */
const MAX_BOOT_RETRY_MS = 500;

/**
 * Start-VM at the target (the failed-over VM, or the test VM in a drill). A VM already Starting or
 * Running is left alone. When the host refuses with HOST_BOOT_LIMIT the handler backs off (jittered,
 * doubling up to 500 ms) and asks again: the limit is the host's to enforce and is never bypassed.
 */
export async function bootHandler(ctx: HandlerContext): Promise<HandlerOutcome> {
  const vm = siteVmName(ctx, requireVm(ctx));
  const where = { step: ctx.step, site: ctx.job.site, vm };
  const started = Date.now();
  // The previous step of this job (the failover) already reported the VM: no second read.
  let view = ctx.known?.name === vm ? ctx.known : await mustGetVm(ctx, vm);
  let refusals = 0;
  let calls = 0;
  let pause = ctx.options.bootRetryInitialMs;
  for (;;) {
    if (view.state === 'Running' || view.state === 'Starting') {
      return {
        outcome: 'done',
        mutated: calls > 0,
        output: { state: view.state, host: view.host, bootLimitRefusals: refusals, alreadyRunning: true },
        view,
      };
    }
    if (view.state === 'Stopping') {
      throw new StepError(
        'INVALID_STATE',
        `${ctx.step}: ${vm} at ${ctx.job.site} is stopping; cannot boot it now`,
        where,
        {
          retryable: true,
        },
      );
    }
    try {
      calls += 1;
      view = await ctx.api.startVM(mutation(ctx, vm));
      if (!view.isTest) await recordStarted(ctx, ctx.job.site, vm);
      return {
        outcome: 'done',
        mutated: true,
        output: {
          state: view.state,
          host: view.host,
          bootLimitRefusals: refusals,
          slotWaitMs: Date.now() - started,
        },
        view,
      };
    } catch (error) {
      const code = simErrorCode(error);
      if (code === 'INVALID_STATE') {
        // Started by someone else since we looked (a duplicate run of this job): absorbed.
        const now = await mustGetVm(ctx, vm);
        if (now.state === 'Running' || now.state === 'Starting') {
          view = now;
          continue;
        }
      }
      if (code !== 'HOST_BOOT_LIMIT') throw error;
      refusals += 1;
      if (Date.now() - started > ctx.options.bootSlotWaitMs) {
        throw new StepError(
          'HOST_BOOT_LIMIT',
          `${ctx.step}: host ${view.host} at ${ctx.job.site} had no free boot slot for ${ctx.options.bootSlotWaitMs} ms`,
          where,
          { retryable: true, cause: error },
        );
      }
    }
    // Wait, then ask again. Start-VM itself is the cheapest probe for a free slot: a site-wide host
    // listing per waiting VM would cost the hosts far more at 10,000 VMs. If a duplicate run started
    // the VM meanwhile, the next call's INVALID_STATE is absorbed above.
    await sleep(pause / 2 + Math.random() * pause, ctx.signal);
    pause = Math.min(pause * 2, MAX_BOOT_RETRY_MS);
  }
}
