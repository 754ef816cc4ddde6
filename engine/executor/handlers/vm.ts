import type { VmView } from '../../hosts/index.ts';
import type { HandlerContext } from './context.ts';
import { StepError, simErrorCode } from './errors.ts';

/** Hyper-V names a test failover's VM `<vm> - Test`. */
export function testVmName(vm: string): string {
  return `${vm} - Test`;
}

/** The VM a step works on; a step job without one is a bug in the orchestrator. */
export function requireVm(ctx: HandlerContext): string {
  const vm = ctx.job.vm;
  if (vm === undefined || vm === '') {
    throw new StepError('BAD_JOB', `step ${ctx.step} needs a VM but job ${ctx.jobId} names none`, {
      step: ctx.step,
      site: ctx.job.site,
    });
  }
  return vm;
}

/** The VM as the job's site names it: the test VM in a drill, the VM itself otherwise. */
export function siteVmName(ctx: HandlerContext, vm: string): string {
  return ctx.job.type === 'test' || ctx.job.type === 'cleanup' ? testVmName(vm) : vm;
}

/** Get-VM, or undefined when the site holds no such VM. */
export async function findVm(ctx: HandlerContext, vm: string): Promise<VmView | undefined> {
  try {
    return await ctx.api.getVM(ctx.job.site, vm);
  } catch (error) {
    if (simErrorCode(error) === 'VM_NOT_FOUND') return undefined;
    throw error;
  }
}

/** Get-VM that must find the VM: a missing VM is a plan/inventory mismatch, not retryable. */
export async function mustGetVm(ctx: HandlerContext, vm: string): Promise<VmView> {
  const view = await findVm(ctx, vm);
  if (view === undefined) {
    throw new StepError(
      'VM_NOT_FOUND',
      `${ctx.step}: site ${ctx.job.site} has no VM named "${vm}"; check the plan against the site's inventory`,
      { step: ctx.step, site: ctx.job.site, vm },
    );
  }
  return view;
}

/** Resolves after `ms`, or rejects when `signal` aborts (worker shutting down). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new Error('aborted'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The mutation fields every host call carries: the job's site, the VM and the execution's epoch. */
export function mutation(ctx: HandlerContext, vm: string): { site: string; vm: string; epoch: number } {
  return { site: ctx.job.site, vm, epoch: ctx.job.epoch };
}

/**
 * A promise that rejects when `signal` aborts and never resolves otherwise: race a step against it
 * so a host call that cannot be cancelled (a heartbeat wait) does not hold up a worker's shutdown.
 * One listener per job, never removed (AbortSignal listener removal is slow at 10,000 jobs).
 */
export function rejectOnAbort(signal: AbortSignal): Promise<never> {
  const rejection = new Promise<never>((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason ?? new Error('aborted'));
    else
      signal.addEventListener('abort', () => reject(signal.reason ?? new Error('aborted')), { once: true });
  });
  rejection.catch(() => {});
  return rejection;
}

/**
 * A mutating call that a duplicate run of the same job may have made first (two workers on one job
 * when a lock lapsed under load): when the host refuses it as INVALID_STATE, read again, and if the
 * call's end state is already there, the step is done. Any other refusal stands.
 */
export async function unlessDoneMeanwhile<T, V>(
  call: () => Promise<T>,
  reread: () => Promise<V>,
  done: (now: V) => boolean,
): Promise<{ result: T } | { meanwhile: V }> {
  try {
    return { result: await call() };
  } catch (error) {
    if (simErrorCode(error) !== 'INVALID_STATE') throw error;
    const now = await reread();
    if (done(now)) return { meanwhile: now };
    throw error;
  }
}
