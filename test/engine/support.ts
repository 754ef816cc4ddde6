/**
 * An engine in one process for tests: the simulated world (scaled clock), each site's workers,
 * an orchestrator and the Redis-backed client, all on the run's Redis under a unique prefix.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedisExecutionClient, type ExecutionClient } from '../../engine/client/index.ts';
import { createLogger } from '../../engine/common/index.ts';
import {
  createQueueConnection,
  type EngineEvent,
  type Orchestrator,
  readAllEvents,
  type SiteWorkers,
  startOrchestrator,
  startSiteWorkers,
} from '../../engine/executor/index.ts';
import type { HostDriver } from '../../engine/hosts/index.ts';
import { compilePlan, loadPlanFile } from '../../engine/plan/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { type World, worldForPlan } from '../../simulators/index.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { acceptedCalls } from './checks.ts';

export const silent = createLogger('test', { level: process.env.TEST_LOG ?? 'silent', pretty: false });

/** A script catalog whose scripts succeed, and a webhook receiver: what a plan's actions call. */
export async function actionFixtures(): Promise<{
  catalog: string;
  webhookUrl: string;
  calls: string[];
  close(): Promise<void>;
}> {
  const catalog = mkdtempSync(join(tmpdir(), 'drorch-catalog-'));
  // Every script the example plans name: they print their arguments and succeed.
  const names = new Set<string>();
  for (const file of readdirSync('plans/examples').filter((f) => f.endsWith('.yaml'))) {
    for (const match of readFileSync(join('plans/examples', file), 'utf8').matchAll(/script:\s*([\w.-]+)/g)) {
      if (match[1]) names.add(match[1]);
    }
  }
  for (const name of names) {
    writeFileSync(join(catalog, `${name}.sh`), '#!/bin/sh\necho "$0 $*"\n', { mode: 0o755 });
  }
  const calls: string[] = [];
  const server: Server = createServer((req, res) => {
    calls.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => res.writeHead(200).end('ok'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    catalog,
    webhookUrl: `http://127.0.0.1:${port}/hook`,
    calls,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(catalog, { recursive: true, force: true });
    },
  };
}

export async function loadExample(
  path: string,
  webhookUrl?: string,
): Promise<{ plan: RecoveryPlan; hash: string }> {
  const result = await loadPlanFile(path);
  if (!result.ok) throw new Error(`${path}: ${result.issues.map((i) => i.message).join('; ')}`);
  if (webhookUrl) {
    for (const action of result.plan.actions) {
      if (action.run.type === 'webhook') action.run.url = webhookUrl;
      if (action.undo?.type === 'webhook') action.undo.url = webhookUrl;
    }
  }
  return { plan: result.plan, hash: result.hash };
}

export interface TestEngine {
  prefix: string;
  redisUrl: string;
  world: World;
  client: ExecutionClient;
  orchestrator: Orchestrator | undefined;
  workers: SiteWorkers[];
  startOrchestrator(): Promise<Orchestrator>;
  close(): Promise<void>;
}

export interface TestEngineOptions {
  /** Simulated ms per real ms. @defaultValue 2000 */
  speed?: number;
  /** Start an in-process orchestrator. @defaultValue true */
  orchestrator?: boolean;
  catalog?: string;
  prefix?: string;
  redisUrl?: string;
  leaseMs?: number;
  world?: World;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Sites whose workers run in this process. @defaultValue source, target and control */
  workerSites?: string[];
  /** What the workers call the hosts through (a fault-injecting wrapper); @defaultValue world.api */
  workerApi?: (api: World['api']) => HostDriver;
}

export async function startTestEngine(
  plan: RecoveryPlan,
  options: TestEngineOptions = {},
): Promise<TestEngine> {
  const prefix = options.prefix ?? uniquePrefix('eng');
  const redisUrl = options.redisUrl ?? testRedisUrl();
  const world =
    options.world ??
    worldForPlan(plan, { clock: { mode: 'scaled', speed: options.speed ?? 2000 }, warmupMs: 5 * 3_600_000 });
  world.start();
  const sites = options.workerSites ?? [plan.source, plan.target, 'control'];
  const workers = sites.map((site) =>
    startSiteWorkers({
      redisUrl,
      prefix,
      site,
      api: options.workerApi ? options.workerApi(world.api) : world.api,
      logger: silent,
      // Long enough that a loaded CI machine never loses a lock by accident; worker-kill tests shorten it.
      lockDurationMs: options.lockDurationMs ?? 15_000,
      stalledIntervalMs: options.stalledIntervalMs ?? 5_000,
      handlers: { ...(options.catalog ? { scriptCatalog: options.catalog } : {}) },
    }),
  );
  await Promise.all(workers.map((w) => w.ready()));
  const client = createRedisExecutionClient({ redisUrl, prefix, compile: compilePlan, inventory: world.api });
  const engine: TestEngine = {
    prefix,
    redisUrl,
    world,
    client,
    orchestrator: undefined,
    workers,
    startOrchestrator: async () => {
      engine.orchestrator = await startOrchestrator({
        redisUrl,
        prefix,
        compile: compilePlan,
        logger: silent,
        leaseMs: options.leaseMs ?? 2000,
        pollMs: 200,
        sweepIdleMs: 500,
      });
      return engine.orchestrator;
    },
    close: async () => {
      await engine.orchestrator?.close(5000);
      await Promise.all(workers.map((w) => w.close(2000)));
      await client.close();
      world.close();
    },
  };
  if (options.orchestrator !== false) await engine.startOrchestrator();
  return engine;
}

/** Wait until the execution reaches one of the statuses (polling the client). */
export async function waitForStatus(
  client: ExecutionClient,
  id: string,
  statuses: readonly string[],
  timeoutMs = 60_000,
): Promise<Awaited<ReturnType<ExecutionClient['get']>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await client.get(id);
    if (statuses.includes(view.status)) return view;
    if (Date.now() > deadline)
      throw new Error(
        `execution ${id} still ${view.status} (${view.stepsDone}/${view.stepsTotal}) after ${timeoutMs} ms`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * An uninterrupted planned failover of `plan` on a fresh engine: the mutating calls the hosts
 * accepted and how long it ran. Fault tests compare a killed-and-resumed run against it.
 */
export async function plannedBaseline(
  plan: RecoveryPlan,
  hash: string,
  catalog: string,
): Promise<{ accepted: Record<string, Record<string, number>>; runMs: number }> {
  const engine = await startTestEngine(plan, { catalog });
  try {
    const { id } = await engine.client.submit({
      type: 'planned',
      plan,
      hash,
      reason: 'baseline',
      approveManual: true,
    });
    const view = await waitForStatus(engine.client, id, ['completed', 'failed']);
    return {
      accepted: acceptedCalls(engine.world.truth()),
      runMs: Date.parse(view.finishedAt ?? '') - Date.parse(view.startedAt ?? ''),
    };
  } finally {
    await engine.close();
  }
}

/** Approve every manual action the execution waits on, as an operator would, until it finishes. */
export function approveAsOperator(client: ExecutionClient, id: string): { approved: string[]; stop(): void } {
  const controller = new AbortController();
  const approved: string[] = [];
  void (async () => {
    for await (const { event } of client.events(id, { follow: true, signal: controller.signal })) {
      if (event.type !== 'execution-status' || !event.detail?.startsWith('waiting for approval of '))
        continue;
      const step = event.detail.slice('waiting for approval of '.length).split(':')[0] ?? '';
      await client.approve(id, step, { by: 'operator' });
      approved.push(step);
    }
  })().catch(() => {});
  return { approved, stop: () => controller.abort() };
}

/** The execution's whole event log, in order (its own connection, closed after). */
export async function executionEvents(engine: TestEngine, id: string): Promise<EngineEvent[]> {
  const redis = createQueueConnection(engine.redisUrl);
  try {
    return (await readAllEvents(redis, engine.prefix, id)).map((stored) => stored.event);
  } finally {
    await redis.quit();
  }
}
