/**
 * Steps the graph always has but that run only when what they make up for happened. The step
 * graph (engine/schedule) is static, so an orchestrator that resumes rebuilds it from the plan
 * snapshot alone; a conditional step is decided when it becomes ready, from the VM machines that
 * are recorded in the same write as the results that made it ready, and recorded `skipped` without
 * a job when it is not needed. Pure.
 *
 * - `<vm>/return` (cancel): runs only when the VM's restore could not reach the source
 *   (its machine `unrestored`: off in both sites); it brings the VM back up at the recovery site.
 * - the undo of a `before` action (cancel, after `barrier/restored`): skipped when a VM was brought
 *   back to the recovery site: the failover is not rolled back for it, and what the action did
 *   before the failover still holds for it.
 */
import type { PlanStep } from '../../plan/types.ts';
import type { JobContext } from '../../schedule/index.ts';

/** The VM machine states of a cancel in which the VM did not go home (vm-machine.ts). */
export const NOT_HOME = new Set(['unrestored', 'returning', 'returned']);

/**
 * Why `step` is recorded skipped without a job, or undefined when it runs. `stateOf` is the VM
 * machine's state name; `vms` the execution's VMs (asked for only by the undo steps: a ready step
 * of a 10,000-VM cancel must not cost a scan of them).
 */
export function skipReason(
  ctx: Pick<JobContext, 'type'>,
  step: PlanStep,
  stateOf: (vm: string) => string,
  vms: () => readonly string[],
): string | undefined {
  if (ctx.type !== 'cancel') return undefined;
  if (step.kind === 'return' && step.vm !== undefined) {
    return stateOf(step.vm) === 'unrestored' ? undefined : 'its primary was restarted at the source';
  }
  if (step.kind === 'action' && step.after.includes('barrier/restored')) {
    const away = vms().filter((vm) => NOT_HOME.has(stateOf(vm)));
    if (away.length > 0)
      return `not undone: ${away.join(', ')} ${away.length === 1 ? 'runs' : 'run'} at the recovery site again (the cancel did not complete for ${away.length === 1 ? 'it' : 'them'})`;
  }
  return undefined;
}
