/**
 * `drctl serve`'s process: the HTTP API, the orchestrator (executions, under the lease that decides
 * which control plane drives which), and the control queue's worker (control-side actions: recovery
 * scripts and webhooks, as HVRM ran them in Azure). It never touches a host: the control worker's
 * host driver refuses every call. Several may run against one Redis.
 */
import { Redis } from 'ioredis';
import { createLogger, DrError, type Logger, listenFailure } from '../common/index.ts';
import { DEFAULT_PREFIX, type Orchestrator, startOrchestrator, startSiteWorkers } from '../executor/index.ts';
import type { HostDriver } from '../hosts/index.ts';
import type { SiteMonitorConfig } from '../machines/index.ts';
import { compilePlan, SITE_LEASE_MS } from '../plan/index.ts';
import type { HyperVReadApi } from '../preflight/index.ts';
import { type AgentHubOptions, agentHubOf } from './agents/index.ts';
import { buildControlApp } from './app.ts';
import { createAuditLog, SYSTEM_ACTOR, vaultAuditSigner } from './audit/index.ts';
import type { ControlApp, ControlContext, ControlRoutes } from './context.ts';
import { createHistoryStore } from './history/index.ts';
import { createInventoryStore, createVaultReadApi } from './inventory/index.ts';
import { createControlMetrics } from './metrics.ts';
import { type SiteMonitor, startSiteMonitor } from './monitor/index.ts';
import { type NotificationsOptions, startNotifications } from './notify/index.ts';
import { createAgentTrust, openVault } from './vault/index.ts';

export interface ControlPlaneOptions {
  redisUrl: string;
  /** @defaultValue 'dr' */
  prefix?: string;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @defaultValue 7080 */
  port?: number;
  /** Route groups under `/api/v1`. */
  routes?: readonly ControlRoutes[];
  /** Lease of an execution (another control plane takes over this long after one died). */
  leaseMs?: number;
  /** Folder of recovery scripts run on the control queue. @defaultValue DR_SCRIPT_CATALOG */
  scriptCatalog?: string;
  /**
   * The read-only host API pre-flight reads (ControlContext.inventory): the vault's inventory, or
   * in tests the simulator's. @defaultValue none: pre-flight refuses (NO_INVENTORY)
   */
  inventory?: HyperVReadApi;
  /** Extra readiness checks behind `/readyz`. */
  readiness?: ControlContext['readiness'];
  /** Agent sessions and the check of units handed out (agents/hub.ts). */
  agents?: AgentHubOptions;
  /**
   * The relays' job locks (a control plane that dies loses its sites' jobs after this).
   * @defaultValue STALL_DEFAULTS.lockDurationMs (4000)
   */
  relayLockDurationMs?: number;
  /** @defaultValue STALL_DEFAULTS.stalledIntervalMs (1000) */
  relayStalledIntervalMs?: number;
  /**
   * The vault (vault/): its folder holds the CA key's key file. Given: the API is HTTPS with the
   * vault's server certificate and agents must use mTLS (vault/guard.ts).
   */
  vault?: {
    dir: string;
    /** An agent certificate's lifetime. @defaultValue 12 h */
    clientLifetimeMs?: number;
    /** Names the server certificate is for. @defaultValue the host, localhost, 127.0.0.1, ::1 */
    names?: readonly string[];
  };
  /**
   * The dashboard's built files, served at `/` (dashboard.ts); `false`: none.
   * @defaultValue the repository's web/dist
   */
  dashboardDir?: string | false;
  /** @defaultValue a pino logger named `control` */
  logger?: Logger;
  /** The webhook deliverer's retries and locks (notify/); tests shorten them. */
  notifications?: Pick<NotificationsOptions, 'retry' | 'lockDurationMs' | 'stalledIntervalMs'>;
  /**
   * The site monitor (monitor/): the sites' leases as its leader sees them. @defaultValue a lease of
   * SITE_LEASE_MS (30 s), suspect after 3 missed heartbeats, a 10 s margin, ticks of 250 ms
   */
  siteMonitor?: Partial<SiteMonitorConfig> & { tickMs?: number };
}

export interface ControlPlane {
  /** The API's base URL, e.g. `https://127.0.0.1:7080` (http without a vault). */
  readonly url: string;
  /** The CA certificates (PEM) clients trust the API by, with a vault. */
  readonly ca?: readonly string[];
  readonly app: ControlApp;
  readonly ctx: ControlContext;
  readonly orchestrator: Orchestrator;
  /** The site monitor (monitor/): leading or not, the sites' snapshots while it leads. */
  readonly monitor: SiteMonitor;
  close(timeoutMs?: number): Promise<void>;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const log = options.logger ?? createLogger('control');
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const redis = new Redis(options.redisUrl, {
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
    connectionName: 'drorch-control',
    retryStrategy: (times) => Math.min(50 * times, 1000),
  });
  redis.on('error', (error) => log.warn({ err: error.message }, 'redis connection error'));
  const metrics = createControlMetrics();
  // Every control plane delivers webhooks from the shared queue and raises what its parts see.
  const notifications = await startNotifications({
    redisUrl: options.redisUrl,
    redis,
    prefix,
    log,
    counter: metrics.notifications,
    ...options.notifications,
  });
  const auditSigner = await vaultAuditSigner(redis, prefix);
  const audit = createAuditLog(redis, prefix, auditSigner);
  const orchestrator = await startOrchestrator({
    // What the engine decides by itself goes on record under the system actor.
    onDecision: async (decision) => {
      await audit.append({
        actor: SYSTEM_ACTOR,
        action: decision.action,
        execution: decision.execution,
        ...(decision.epoch === undefined ? {} : { epoch: decision.epoch }),
        ...(decision.plan === undefined ? {} : { plan: decision.plan }),
        outcome: 'accepted',
        detail: decision.detail,
      });
    },
    redisUrl: options.redisUrl,
    prefix,
    compile: compilePlan,
    logger: log.child({ part: 'orchestrator' }),
    onNotices: (notices) => notifications.onNotices(notices),
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
  });
  const actions = startSiteWorkers({
    redisUrl: options.redisUrl,
    prefix,
    site: 'control',
    api: noHosts(),
    logger: log.child({ part: 'actions' }),
    handlers: options.scriptCatalog === undefined ? {} : { scriptCatalog: options.scriptCatalog },
  });
  await actions.ready();
  const ctx: ControlContext = {
    audit,
    auditSigner,
    redis,
    redisUrl: options.redisUrl,
    prefix,
    log,
    metrics,
    notifications,
    history: createHistoryStore(redis, { prefix }),
    // Pre-flight reads the sites from what their agents reported (refreshed through them).
    inventory: createVaultReadApi({ store: createInventoryStore(redis, prefix) }),
    readiness: { ...options.readiness },
    ...(options.inventory === undefined ? {} : { inventory: options.inventory }),
  };
  const host = options.host ?? '127.0.0.1';
  let tls: { key: string; cert: string; ca: readonly string[] } | undefined;
  if (options.vault !== undefined) {
    const opened = await openVault({
      redis,
      prefix,
      dir: options.vault.dir,
      ...(options.vault.clientLifetimeMs === undefined
        ? {}
        : { clientLifetimeMs: options.vault.clientLifetimeMs }),
    }).catch(async (error: unknown) => {
      await Promise.all([actions.close(1000), orchestrator.close(1000)]);
      redis.disconnect();
      throw error;
    });
    const names = options.vault.names ?? [...new Set([host, 'localhost', '127.0.0.1', '::1'])];
    const vaultOptions = options.vault;
    ctx.trust = await createAgentTrust({
      vault: opened,
      redis,
      prefix,
      log: log.child({ part: 'vault' }),
      // A rotation: the new CA trusted at once, and a server certificate of the new CA (with the
      // cross certificate) for the connections that open from now on.
      onRotated: async () => {
        const reopened = await openVault({
          redis,
          prefix,
          dir: vaultOptions.dir,
          ...(vaultOptions.clientLifetimeMs === undefined
            ? {}
            : { clientLifetimeMs: vaultOptions.clientLifetimeMs }),
        });
        const credentials = await reopened.serverCredentials(names);
        (app.server as unknown as { setSecureContext(o: object): void }).setSecureContext({
          ...credentials,
          ca: [...reopened.trusted],
          minVersion: 'TLSv1.2',
        });
        return reopened;
      },
    });
    tls = { ...(await opened.serverCredentials(names)), ca: opened.trusted };
  }
  // The agents' hub before the routes, which find it: one relay per site an agent said hello for.
  const agents = agentHubOf(ctx, options.agents);
  const app = await buildControlApp(ctx, {
    routes: options.routes ?? [],
    ...(tls === undefined ? {} : { tls }),
    ...(options.dashboardDir === undefined ? {} : { dashboardDir: options.dashboardDir }),
  });
  const port = options.port ?? 7080;
  const address = await app.listen({ host, port }).catch(async (error: unknown) => {
    await app.close();
    await Promise.all([
      actions.close(1000),
      orchestrator.close(1000),
      notifications.close(1000),
      ctx.trust?.close(),
    ]);
    redis.disconnect();
    throw listenFailure(error, host, port, 'the control plane');
  });
  const heartbeatMs = options.agents?.heartbeatMs ?? 1000;
  const monitor = startSiteMonitor({
    redis,
    prefix,
    log: log.child({ part: 'site-monitor' }),
    config: {
      leaseMs: options.siteMonitor?.leaseMs ?? SITE_LEASE_MS,
      suspectAfterMs: options.siteMonitor?.suspectAfterMs ?? 3 * heartbeatMs,
      marginMs: options.siteMonitor?.marginMs ?? 10_000,
      witnessEveryMs: options.siteMonitor?.witnessEveryMs ?? 5_000,
    },
    ...(options.siteMonitor?.tickMs === undefined ? {} : { tickMs: options.siteMonitor.tickMs }),
    notify: (event) => notifications.notify(event),
  });
  await agents.startRelays({
    redisUrl: options.redisUrl,
    api: noHosts(),
    log,
    ...(options.relayLockDurationMs === undefined ? {} : { lockDurationMs: options.relayLockDurationMs }),
    ...(options.relayStalledIntervalMs === undefined
      ? {}
      : { stalledIntervalMs: options.relayStalledIntervalMs }),
  });
  let closing: Promise<void> | undefined;
  const close = async (timeoutMs: number): Promise<void> => {
    // Waiting polls answer now (empty), or closing the server would wait for them.
    agents.stopPolls();
    await app.close();
    await Promise.all([
      monitor.close(),
      agents.close(timeoutMs),
      actions.close(timeoutMs),
      orchestrator.close(timeoutMs),
      notifications.close(timeoutMs),
      ctx.trust?.close(),
    ]);
    redis.disconnect();
  };
  return {
    url: address.replace('[::1]', 'localhost'),
    ...(ctx.trust === undefined ? {} : { ca: [...ctx.trust.vault.trusted, ...ctx.trust.vault.chain] }),
    app,
    ctx,
    orchestrator,
    monitor,
    close: (timeoutMs = 10_000) => {
      closing ??= close(timeoutMs);
      return closing;
    },
  };
}

/** The control plane's host driver: every call refused. Only a site's agent talks to hosts. */
function noHosts(): HostDriver {
  return new Proxy({} as HostDriver, {
    get: (_target, prop) => {
      if (prop === 'then') return undefined;
      return () =>
        Promise.reject(
          new DrError(
            'NO_HOSTS',
            `the control plane never touches a host (${String(prop)}); a step that does belongs on its site's queue`,
          ),
        );
    },
  });
}
