import type { NetworkBinding } from '../../plan/types.ts';
import type { EvalContext } from '../context.ts';

/**
 * The networks of the plan's mapping must exist at the site the VMs fail over to.
 * - test: `network.test` must exist and be isolated (a drill never reaches production); a missing
 *   failover network is a warning (the drill passes, the real failover would not connect the VM).
 *   No test network: a warning, the test VM stays disconnected as Hyper-V does by default.
 * - planned / unplanned, forward: `network.failover` must exist.
 * - failback: the VM returns to the network it had at home, which the plan does not name.
 */
export function checkNetworks(ctx: EvalContext): void {
  const to = ctx.to;
  if (to === undefined || ctx.settings.direction === 'failback') return;
  for (const vm of ctx.selected) {
    if (ctx.excluded.has(vm.name)) continue;
    const base = ctx.vmPath(vm.name);
    const failover = vm.network.failover;
    if (ctx.settings.type !== 'test') {
      if (failover !== undefined && !to.networks.has(failover.network))
        missing(ctx, vm.name, failover, `${base}.network.failover`, true);
      continue;
    }
    const test = vm.network.test;
    if (test === undefined) {
      ctx.warn('TEST_NETWORK_UNSET', {
        vm: vm.name,
        message: `VM '${vm.name}' has no test network: its test copy will not be connected`,
        hint: 'set network.test to an isolated network to test the application, not only the boot',
      });
    } else {
      const found = to.networks.get(test.network);
      if (found === undefined) missing(ctx, vm.name, test, `${base}.network.test`, true);
      else if (!found.isolated) {
        ctx.block('TEST_NETWORK_NOT_ISOLATED', {
          vm: vm.name,
          site: ctx.toSite,
          path: `${base}.network.test`,
          message: `test network '${test.network}' at '${ctx.toSite}' is not isolated: the test copy of '${vm.name}' could reach production`,
          hint: 'use an isolated network (no uplink) for drills, or isolate this one',
        });
      }
    }
    if (failover !== undefined && !to.networks.has(failover.network))
      missing(ctx, vm.name, failover, `${base}.network.failover`, false);
  }
}

function missing(
  ctx: EvalContext,
  vm: string,
  binding: NetworkBinding,
  path: string,
  blocking: boolean,
): void {
  const known = [...(ctx.to?.networks.keys() ?? [])].slice(0, 8).join(', ');
  const input = {
    vm,
    site: ctx.toSite,
    path,
    message: `network '${binding.network}' does not exist at site '${ctx.toSite}'${blocking ? '' : ' (needed by a real failover, not by this drill)'}`,
    hint: `create it, or map the VM to an existing network${known === '' ? '' : ` (${known})`}`,
  };
  if (blocking) ctx.block('NETWORK_MISSING', input);
  else ctx.warn('NETWORK_MISSING', input);
}
