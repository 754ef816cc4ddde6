import { type EvalContext, PROTECT_COMMAND } from '../context.ts';

/**
 * Unplanned failover only, source readable: each primary whose automatic start action would start
 * it when its host returns (Start, or StartIfRunning while it runs). When this site is lost and
 * comes back before its agent, Hyper-V starts those old primaries beside the recovered VMs: a
 * divergence the engine can only report after the fact (and reprotect then refuses to discard
 * without an acknowledgement). The fence this failover runs bars them when the source answers; the
 * warning is about the case where it does not. Located at the VM.
 */
export function checkAutomaticStart(ctx: EvalContext): void {
  if (ctx.settings.type !== 'unplanned') return;
  const from = ctx.from;
  if (from === undefined) return;
  for (const vm of ctx.selected) {
    const view = from.vms.get(vm.name);
    if (view === undefined || view.startBarred || view.isTest) continue;
    const action = view.automaticStartAction;
    const running = view.state !== 'Off';
    if (action === 'Nothing' || (action === 'StartIfRunning' && !running)) continue;
    ctx.warn('AUTOMATIC_START_ACTION', {
      vm: vm.name,
      site: ctx.fromSite,
      host: view.host,
      message: `the primary of '${vm.name}' at '${ctx.fromSite}' has automatic start action ${action}: if its site is lost and returns before its agent, Hyper-V starts it beside the recovered VM (it runs in two sites until the agent fences it)`,
      hint: `set it to Nothing while the plan protects it: ${PROTECT_COMMAND} (Set-VM -AutomaticStartAction Nothing)`,
      details: { automaticStartAction: action, state: view.state },
    });
  }
}
