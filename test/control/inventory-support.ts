/** A control plane with the inventory routes on a real port, and reporters of a simulated world. */
import { type InventoryReporter, startInventoryReporter } from '../../engine/agent/inventory.ts';
import { createApiRequester } from '../../engine/client/index.ts';
import { createLogger } from '../../engine/common/index.ts';
import { createHistoryStore } from '../../engine/control/history/index.ts';
import {
  buildControlApp,
  type ControlApp,
  type ControlContext,
  createControlMetrics,
} from '../../engine/control/index.ts';
import {
  createInventoryStore,
  createVaultReadApi,
  type InventoryBatch,
  type InventoryRoutesOptions,
  type InventoryStore,
  inventoryRoutes,
  type VaultReadApi,
  type VaultReadApiOptions,
} from '../../engine/control/inventory/index.ts';
import type { World } from '../../simulators/index.ts';
import { adminToken } from '../support/auth.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';

export const silent = createLogger('test', { level: 'silent' });

export interface Vault {
  app: ControlApp;
  ctx: ControlContext;
  url: string;
  store: InventoryStore;
  /** The control plane's clock: stands still unless a test moves it. */
  wall: { ms: number };
  request: ReturnType<typeof createApiRequester>;
  readApi(options?: Partial<VaultReadApiOptions>): VaultReadApi;
  close(): Promise<void>;
}

export async function startVault(
  options: InventoryRoutesOptions = {},
  more: { history?: boolean } = {},
): Promise<Vault> {
  const redis = testRedisClient();
  const wall = { ms: Date.parse('2030-01-01T00:00:00Z') };
  const clock = () => wall.ms;
  const ctx: ControlContext = {
    redis,
    redisUrl: testRedisUrl(),
    prefix: uniquePrefix('inv'),
    log: silent,
    metrics: createControlMetrics(),
    readiness: {},
  };
  if (more.history) ctx.history = createHistoryStore(redis, { prefix: ctx.prefix, clock });
  const store = createInventoryStore(redis, ctx.prefix);
  const app = await buildControlApp(ctx, { routes: [inventoryRoutes({ clock, ...options })] });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    app,
    ctx,
    url: address,
    store,
    wall,
    // An admin's token: the people routes (GET /inventory) need one; the agents' take none.
    request: createApiRequester(address, { token: await adminToken(ctx) }),
    readApi: (more = {}) => createVaultReadApi({ store, clock, refreshWaitMs: 300, ...more }),
    async close() {
      await app.close();
      redis.disconnect();
    },
  };
}

export interface Reporting {
  reporter: InventoryReporter;
  /** Every body the reporter posted, in order. */
  sent: InventoryBatch[];
}

/** A reporter of `site` that sweeps only when told (refreshNow), posting to the vault over HTTP. */
export function reportSite(
  vault: Vault,
  world: World,
  site: string,
  options: { cycleMs?: number; clock?: () => number; maxBatchBytes?: number } = {},
): Reporting {
  const sent: InventoryBatch[] = [];
  const reporter = startInventoryReporter({
    driver: world.api,
    site,
    log: silent,
    ...options,
    pollMs: 3_600_000,
    post: (path, body) => {
      sent.push(structuredClone(body) as InventoryBatch);
      return vault.request('POST', path, { body });
    },
  });
  return { reporter, sent };
}
