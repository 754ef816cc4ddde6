/** A control plane with the inventory routes on a real port, and reporters of a simulated world. */
import { type InventoryReporter, startInventoryReporter } from '../../engine/agent/inventory.ts';
import { createApiRequester } from '../../engine/client/index.ts';
import { createLogger } from '../../engine/common/index.ts';
import { AGENT_SESSION_HEADER } from '../../engine/contract/index.ts';
import { createHistoryStore } from '../../engine/control/history/index.ts';
import {
  agentHubOf,
  buildControlApp,
  CONTROL_VERSION,
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
  /** The headers of a post by `site`'s agent: the session a hello opened (once per site). */
  agentHeaders(site: string): Promise<Record<string, string>>;
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
  const sessions = new Map<string, Promise<string>>();
  const agentHeaders = async (site: string): Promise<Record<string, string>> => {
    let session = sessions.get(site);
    if (session === undefined) {
      session = agentHubOf(ctx)
        .sessions.hello({
          site,
          agentId: `agent-${site}`,
          version: CONTROL_VERSION,
          scriptCatalog: { scripts: {} },
        })
        .then((record) => record.session);
      sessions.set(site, session);
    }
    return { [AGENT_SESSION_HEADER]: await session };
  };
  return {
    agentHeaders,
    app,
    ctx,
    url: address,
    store,
    wall,
    // An admin's token: the people routes (GET /inventory) need one; the agents' take none.
    request: createApiRequester(address, { token: await adminToken(ctx) }),
    readApi: (more = {}) => createVaultReadApi({ store, clock, refreshWaitMs: 300, ...more }),
    async close() {
      await agentHubOf(ctx).close(1000);
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
    post: async (path, body) => {
      sent.push(structuredClone(body) as InventoryBatch);
      return vault.request('POST', path, { body, headers: await vault.agentHeaders(site) });
    },
  });
  return { reporter, sent };
}
