import type { HostErrorCode, VmView } from '../../hosts/index.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { divergedEvent, fenceDiverged, runsAsPrimary } from './divergence.ts';
import { StepError, simErrorCode } from './errors.ts';
import { describe } from './shutdown.ts';
import { recordSighting } from './sighting.ts';
import { findVm, mutation, requireVm } from './vm.ts';

/** Refusals that mean the source cannot be reached now: the fence is skipped, the failover goes on. */
const UNREACHABLE: ReadonlySet<HostErrorCode> = new Set<HostErrorCode>(['SITE_UNREACHABLE', 'HOST_DOWN']);

/**
 * Unplanned failover, at the source site, before the VM's failover: ASR's "shut down source
 * machines". Reads the old primary first; when it is running or could be started, fenceVM turns it
 * off and bars any start under the execution's epoch (Hyper-V's automatic start action included),
 * so the replica never runs next to it. A repeat finds it fenced and makes no call.
 *
 * Best effort: a source site or host that does not answer ends the step `warned` with the reason,
 * and the failover proceeds (the point of an unplanned failover is that the source may be gone).
 * A newer execution owning the VM (its epoch is past ours) fails the step with STALE_EPOCH.
 */
export async function fenceHandler(ctx: HandlerContext): Promise<HandlerOutcome> {
  const vm = requireVm(ctx);
  const site = ctx.job.site;
  const epoch = ctx.job.epoch;
  const where = { step: ctx.step, site, vm };
  let view: VmView | undefined;
  // A late fence after the VM failed over: host time before the read, to date the old primary's start.
  let seenAt: string | undefined;
  try {
    if (ctx.late?.failedOver) seenAt = await ctx.api.now();
    view = await findVm(ctx, vm);
  } catch (error) {
    const unreachable = notFenced(ctx, vm, error);
    if (unreachable !== undefined) return unreachable;
    throw error;
  }
  if (view === undefined) {
    return {
      outcome: 'warned',
      mutated: false,
      output: { fenced: false, site, reason: 'VM_NOT_FOUND' },
      error: {
        code: 'NOT_FENCED',
        message: `${vm} was not fenced: site ${site} has no VM of that name (nothing there to run it); check the plan against the site's inventory`,
        retryable: false,
      },
      detail: `source not fenced: no VM named ${vm} at ${site}`,
    };
  }
  if (view.epoch > epoch) {
    throw new StepError(
      'STALE_EPOCH',
      `${ctx.step}: ${vm} at ${site} is owned by a newer execution (epoch ${view.epoch} > ${epoch}); this execution was superseded`,
      where,
    );
  }
  const mode = view.replication?.mode;
  if (mode === 'Replica' || mode === 'ExtendedReplica' || mode === 'TestReplica') {
    return {
      outcome: 'done',
      mutated: false,
      output: { fenced: false, site, reason: 'not-a-primary', state: describe(view) },
      detail: `source ${site} holds ${vm} as a ${mode.toLowerCase()} now: nothing to fence`,
      view,
    };
  }
  if (isFenced(view, epoch)) {
    await recordSighting(ctx, site, vm, 'read');
    return {
      outcome: 'done',
      mutated: false,
      output: { fenced: true, site, epoch, already: true },
      detail: `source fenced at ${site} (epoch ${epoch})`,
      view,
    };
  }
  if (seenAt !== undefined && runsAsPrimary(view)) return await fenceLateDiverged(ctx, vm, view, seenAt);
  const wasRunning = view.state !== 'Off';
  ctx.log.debug({ state: view.state, barred: view.startBarred }, 'fencing the old primary');
  let fenced: VmView;
  try {
    fenced = await ctx.api.fenceVM(mutation(ctx, vm));
  } catch (error) {
    const unreachable = notFenced(ctx, vm, error);
    if (unreachable !== undefined) {
      // Read running a moment ago, not fenced: the data-loss claim's lower bound moves up to now.
      if (wasRunning) await recordSighting(ctx, site, vm, 'running');
      return unreachable;
    }
    throw error;
  }
  // When the old primary stopped writing, for the failover's data-loss claim: now, by this fence,
  // when it was running; else at some time before (found off).
  const at = await recordSighting(ctx, site, vm, wasRunning ? 'fence' : 'read');
  return {
    outcome: 'done',
    mutated: true,
    output: { fenced: true, site, epoch, wasRunning, ...(at === undefined ? {} : { at }) },
    detail: `source fenced at ${site} (epoch ${epoch}${wasRunning ? ', was running: turned off' : ''})`,
    view: fenced,
  };
}

/**
 * The fence ran late (its site was gone at the deadline) and finds the old primary running while
 * the VM runs at the target: Hyper-V's automatic start action (or someone) started it when its site
 * returned. Fenced now, and recorded as a divergence, not as a plain fence.
 */
async function fenceLateDiverged(
  ctx: HandlerContext,
  vm: string,
  view: VmView,
  seenAt: string,
): Promise<HandlerOutcome> {
  const site = ctx.job.site;
  const epoch = ctx.job.epoch;
  const { divergence, fenced, error } = await fenceDiverged(ctx.api, {
    site,
    vm,
    epoch,
    runsAt: ctx.job.toSite,
    detectedBy: 'late-fence',
    view,
    seenAt,
  });
  ctx.log.warn(
    { ranFrom: divergence.ranFrom, ranMs: divergence.ranMs, fenced: divergence.fenced },
    'old primary ran at its returned site while its VM ran at the target: diverged',
  );
  const events = [divergedEvent(ctx.job.execution, divergence)];
  if (fenced === undefined) {
    const unreachable = notFenced(ctx, vm, error);
    if (unreachable !== undefined)
      return { ...unreachable, events, output: { ...unreachable.output, divergence } };
    throw error;
  }
  return {
    outcome: 'done',
    mutated: true,
    output: { fenced: true, site, epoch, wasRunning: true, divergence },
    detail: `old primary found running at ${site} while ${vm} ran at ${ctx.job.toSite}: diverged, fenced (epoch ${epoch})`,
    view: fenced,
    events,
  };
}

/** Off and barred from starting under our epoch: fenced by this execution (or a newer one). */
function isFenced(view: VmView, epoch: number): boolean {
  return view.state === 'Off' && view.startBarred && view.epoch >= epoch;
}

function notFenced(ctx: HandlerContext, vm: string, error: unknown): HandlerOutcome | undefined {
  const code = simErrorCode(error);
  if (code === undefined || !UNREACHABLE.has(code)) return undefined;
  const site = ctx.job.site;
  const cause = error instanceof Error ? error.message : String(error);
  const why =
    code === 'HOST_DOWN'
      ? `the host of ${vm} at ${site} is down (the VM is off, but its automatic start action may start it when the host returns: keep that host off the network or set the VM's automatic start action to Nothing)`
      : `site ${site} is unreachable`;
  ctx.log.warn({ code, err: cause }, 'source not reachable: not fenced; the failover goes on');
  return {
    outcome: 'warned',
    mutated: false,
    output: { fenced: false, site, reason: code },
    error: {
      code: 'NOT_FENCED',
      message: `${vm} was NOT fenced: ${why} (${code}: ${cause})`,
      retryable: false,
    },
    detail: `source NOT fenced: ${code === 'HOST_DOWN' ? 'host down' : 'site unreachable'} at ${site}`,
  };
}
