/**
 * The demo's engine, shaped as in production and started in this process: the control plane
 * (API over HTTPS, vault in Redis, orchestrator, control-side actions, one relay a site) on a free
 * port, and one agent per site of the simulated world over mutual TLS, the only part that touches
 * that site's hosts. No unauthenticated mode here either: the vault is made first (its key file in
 * a temporary folder, 0600), each agent registered with it, and the demo talks to the control plane
 * as the CLI does with DR_SERVER, DR_CA_FILE and the first admin token (run/connect.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { type Agent, inventoryReporter, startAgent } from '../../agent/index.ts';
import { createApiRequester } from '../../client/index.ts';
import { DrError, type Logger } from '../../common/index.ts';
import { siteListSchema } from '../../contract/index.ts';
import { createFirstAdminToken } from '../../control/auth/index.ts';
import { CONTROL_VERSION, type ControlPlane, controlRoutes, startControlPlane } from '../../control/index.ts';
import { DEFAULT_PREFIX } from '../../executor/index.ts';
import type { HostDriver } from '../../hosts/index.ts';
import { ensureVault, registerSiteAgent } from '../trust-setup.ts';
import { type Connection, connectClient } from './connect.ts';

export interface DemoEngineOptions {
  redisUrl: string;
  prefix: string;
  /** The sites' hosts, handed to their agents alone (the demo's simulated world, in process). */
  hosts: HostDriver;
  /** Simulated ms per real ms of the hosts' clock. */
  speed: number;
  /** The demo's script catalog, on the control plane and at every site. */
  scriptCatalog: string;
  logger: Logger;
  /** Called with each part as soon as it runs, so that a stop signal tears down what started. */
  started: (close: () => Promise<void>) => void;
  /** True once a stop signal came: start nothing more. */
  stopping: () => boolean;
}

export interface DemoEngine {
  control: ControlPlane;
  /** The sites, one agent each. */
  sites: string[];
  /** The control plane's client, as `drctl` builds it with DR_SERVER and DR_CA_FILE. */
  connection: Connection;
  /** The vault's CA certificates (PEM), which the API's certificate is checked against. */
  ca: string;
  /** The vault's ca.pem (what DR_CA_FILE names for the CLI), in the run's temporary folder. */
  caFile: string;
}

/** How long the agents may take to say hello and send their first full inventory. */
const AGENTS_READY_MS = 30_000;

/** Hyper-V Replica's shortest cycle, in the world's (simulated) time. */
const REPLICATION_CYCLE_MS = 30_000;

export async function startDemoEngine(options: DemoEngineOptions): Promise<DemoEngine | undefined> {
  const { hosts, logger: log } = options;
  // The vault's key file and the agents' keys, in a folder of this run alone (removed at the end).
  const folder = mkdtempSync(join(tmpdir(), 'drorch-demo-keys-'));
  options.started(async () => rmSync(folder, { recursive: true, force: true }));
  const vaultDir = join(folder, 'vault');
  const agentDir = join(folder, 'agents');
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', () => {});
  options.started(async () => redis.disconnect());
  // The demo's own admin token (its vault is new): what `drctl vault init` and `drctl up` hand out.
  const made = await ensureVault({
    redis,
    prefix: options.prefix,
    dir: vaultDir,
    firstAdminToken: async () =>
      (await createFirstAdminToken(redis, options.prefix, { owner: 'demo' })).token,
  });
  const token = made?.adminToken;
  if (token === undefined)
    throw new DrError(
      'VAULT_EXISTS',
      `a vault exists already under the demo's prefix ${options.prefix}; run the demo again (each run has a prefix of its own)`,
    );
  const control = await startControlPlane({
    redisUrl: options.redisUrl,
    prefix: options.prefix,
    port: 0,
    routes: controlRoutes,
    scriptCatalog: options.scriptCatalog,
    logger: log.child({ part: 'control' }),
    vault: { dir: vaultDir },
  });
  options.started(() => control.close(2000));
  if (options.stopping()) return undefined;
  const ca = (control.ca ?? []).join('\n');
  const sites = await hosts.listSites();
  // Each agent's key made here, its certificate from the vault: `drctl site register` and
  // `drctl agent --register`, in process.
  const identities = await Promise.all(
    sites.map((site) =>
      registerSiteAgent({ redis, prefix: options.prefix, server: control.url, site, agentDir }),
    ),
  );
  if (options.stopping()) return undefined;
  // Every VM's record goes up at least once a replication cycle of the hosts' clock, which runs
  // `speed` times faster than the agents' (drctl agent's default is one real-time cycle): pre-flight
  // then reads sites as fresh as on real hosts.
  const cycleMs = Math.max(250, Math.round(REPLICATION_CYCLE_MS / options.speed));
  const agents: Agent[] = sites.map((site, i) =>
    startAgent({
      site,
      server: control.url,
      api: hosts,
      version: CONTROL_VERSION,
      reporters: [inventoryReporter({ cycleMs })],
      logger: log.child({ part: 'agent' }),
      handlers: { scriptCatalog: options.scriptCatalog },
      ...(identities[i] === undefined ? {} : { identity: identities[i] }),
    }),
  );
  for (const agent of agents) options.started(() => agent.close(2000));
  await Promise.all(agents.map((agent) => agent.ready()));
  await untilReported(control.url, token, ca, sites, options.stopping);
  if (options.stopping()) return undefined;
  const connection = await connectClient({ server: control.url, prefix: DEFAULT_PREFIX, token, ca });
  options.started(() => connection.close());
  return { control, sites, connection, ca, caFile: join(vaultDir, 'ca.pem') };
}

const SiteInventorySchema = z.object({
  sites: z.array(z.object({ site: z.string(), complete: z.boolean() })),
});

/**
 * Until the control plane lists a live agent for each site and holds a full inventory of it, read
 * through its API as any client would: pre-flight reads the sites from that inventory.
 */
async function untilReported(
  server: string,
  token: string,
  ca: string,
  sites: string[],
  stopping: () => boolean,
): Promise<void> {
  const request = createApiRequester(server, { token, ca });
  const deadline = Date.now() + AGENTS_READY_MS;
  let waiting = sites;
  while (!stopping()) {
    const agents = siteListSchema.parse(await request('GET', '/api/v1/sites')).sites;
    const reported = await Promise.all(
      waiting.map(async (site) => {
        const view = SiteInventorySchema.parse(
          await request('GET', '/api/v1/inventory', { query: { site, limit: 1 } }),
        );
        const live = agents.some((a) => a.site === site && a.live);
        return live && view.sites.some((s) => s.site === site && s.complete);
      }),
    );
    waiting = waiting.filter((_, i) => !reported[i]);
    if (waiting.length === 0) return;
    if (Date.now() > deadline)
      throw new DrError(
        'AGENTS_NOT_READY',
        `the agent of ${waiting.join(', ')} did not report its inventory to the control plane within ${AGENTS_READY_MS / 1000}s; run with LOG_LEVEL=info to see why`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
