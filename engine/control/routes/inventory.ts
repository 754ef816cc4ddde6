/**
 * The sites as the control plane's pre-flight reads them: `ControlContext.inventory`, looked up at
 * each call (it is plugged in once the vault has one), refused clearly while there is none.
 */
import { DrError } from '../../common/index.ts';
import type { HyperVReadApi } from '../../preflight/index.ts';
import type { ControlContext } from '../context.ts';

/** What a request that needs the sites gets while the vault has no inventory: 503, NO_INVENTORY. */
export function noInventory(): DrError {
  return new DrError(
    'NO_INVENTORY',
    "the control plane has no inventory of the sites' hosts, so pre-flight cannot read them and nothing was changed; ask again once the sites' agents have reported their hosts",
    { details: { status: 503 } },
  );
}

export function controlInventory(ctx: ControlContext): {
  /** A read API that looks the inventory up at each call (for clients built once). */
  api: HyperVReadApi;
  /** The inventory now, or NO_INVENTORY. */
  require(): HyperVReadApi;
} {
  const require = (): HyperVReadApi => {
    if (ctx.inventory === undefined) throw noInventory();
    return ctx.inventory;
  };
  return {
    require,
    api: {
      now: () => require().now(),
      listVMs: (site) => require().listVMs(site),
      listHosts: (site) => require().listHosts(site),
      listNetworks: (site) => require().listNetworks(site),
      getRecoveryPoints: (site, vm) => require().getRecoveryPoints(site, vm),
    },
  };
}
