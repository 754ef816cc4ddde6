import type { EvalContext } from '../context.ts';

/**
 * When part of a plan runs, a selected VM's dependency outside the selection must already run at
 * the target site (as its test copy, for a drill), or the VM would boot without it.
 */
export function checkExternalDependencies(ctx: EvalContext): void {
  const to = ctx.to;
  if (to === undefined) return;
  const test = ctx.settings.type === 'test';
  for (const { vm, dependency, via } of ctx.subset.external) {
    const view = test ? to.testVms.get(dependency) : to.vms.get(dependency);
    if (view?.state === 'Running' && (test || !isReplicating(view.replication?.state))) continue;
    const planVm = ctx.plan.vms[ctx.vmIndex(vm)];
    const index = planVm?.dependsOn.indexOf(dependency) ?? -1;
    const groupIndex = planVm?.group;
    const path =
      via === 'dependsOn' && index >= 0
        ? `${ctx.vmPath(vm)}.dependsOn[${index}]`
        : groupIndex !== undefined && groupIndex > 0
          ? `spec.groups[${groupIndex - 1}]`
          : ctx.vmPath(vm);
    const state = view === undefined ? 'not there' : view.state;
    ctx.block('DEPENDENCY_NOT_SELECTED_AND_NOT_RUNNING', {
      vm,
      site: ctx.toSite,
      path,
      message: `'${vm}' depends on '${dependency}'${via === 'group' ? ' (its group comes first)' : ''}, which is not selected and is not running at '${ctx.toSite}'${test ? ' as a test VM' : ''} (${state})`,
      hint: `add '${dependency}' to the selection (--vms), or fail it over first`,
      details: { dependency, via },
    });
  }
}

function isReplicating(state: string | undefined): boolean {
  return state === 'Replicating';
}
