/**
 * `drctl demo`: everything in one process with embedded defaults: a private redis-server unless
 * REDIS_URL is set, the simulated world of the three-tier example (scaled clock), each site's
 * workers and an orchestrator; then a drill with its cleanup and a planned failover, with live
 * progress, the timeline, the achieved RTO and the engine's data-loss claims, with the simulator's
 * ledger beside them as the judge (the demo wiring may read it; the engine never does).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { worldForPlan } from '../../../simulators/index.ts';
import { createRedisExecutionClient, type ExecutionClient } from '../../client/index.ts';
import { createLogger, formatElapsed } from '../../common/index.ts';
import { startOrchestrator, startSiteWorkers } from '../../executor/index.ts';
import { compilePlan } from '../../plan/index.ts';
import type { FailoverType, RecoveryPlan } from '../../plan/types.ts';
import { preflightSummaryLine } from '../../preflight/index.ts';
import { acquireRedis } from '../../redis/index.ts';
import { loadPlanOrExit } from './common.ts';
import { summaryLines } from './summary.ts';
import { watchExecution } from './watch.ts';

interface DemoFlags {
  plan: string;
  speed: number;
}

/** Scripts of the demo's catalog print what they would do; webhooks go to a local receiver. */
async function demoActions(plan: RecoveryPlan): Promise<{ catalog: string; close(): Promise<void> }> {
  const catalog = mkdtempSync(join(tmpdir(), 'drorch-demo-scripts-'));
  for (const action of plan.actions) {
    for (const run of [action.run, action.undo]) {
      if (run?.type === 'script') {
        writeFileSync(
          join(catalog, `${run.script}.sh`),
          `#!/bin/sh\necho "[demo script ${run.script}] $*"\n`,
          { mode: 0o755 },
        );
      }
    }
  }
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/webhook`;
  for (const action of plan.actions) {
    if (action.run.type === 'webhook') action.run.url = url;
    if (action.undo?.type === 'webhook') action.undo.url = url;
  }
  return {
    catalog,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(catalog, { recursive: true, force: true });
    },
  };
}

async function run(
  client: ExecutionClient,
  plan: RecoveryPlan,
  hash: string,
  type: FailoverType,
  speed: number,
): Promise<string> {
  const title = type === 'test' ? 'DRILL (test failover)' : `${type.toUpperCase()} FAILOVER`;
  process.stdout.write(`\n== ${title} of ${plan.metadata.name}: ${plan.source} → ${plan.target} ==\n`);
  const { id, preflight } = await client.submit({
    type,
    plan,
    hash,
    reason: `drctl demo: ${title.toLowerCase()}`,
    approveManual: true,
    by: 'demo',
  });
  process.stdout.write(`${preflightSummaryLine(preflight)}\n`);
  const view = await watchExecution(client, id, { speed });
  for (const line of summaryLines(view, { speed })) process.stdout.write(`${line}\n`);
  return id;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Drill, cleanup and planned failover of the three-tier example, all in this process')
    .option('--plan <file>', 'plan to run', 'plans/examples/three-tier.yaml')
    .option('--speed <n>', 'simulated ms per real ms', (v) => Number(v), 60)
    .action(async (flags: DemoFlags) => {
      const { plan, hash } = await loadPlanOrExit(flags.plan);
      const teardown = new Teardown();
      const stop = stopOnSignals(teardown);
      try {
        await demo(plan, hash, flags, teardown);
      } catch (error) {
        // Once a signal stops the demo, what it was doing fails as its engine goes away: not news.
        if (teardown.signal === undefined) throw error;
      } finally {
        await teardown.run();
        stop();
      }
    });
}

/**
 * What the demo started, stopped in reverse order however it ends: the last line, an error, or
 * SIGHUP/SIGINT/SIGTERM (the terminal closed, Ctrl-C, a service manager). The private
 * redis-server and the temporary folders never outlive the demo.
 */
class Teardown {
  signal: NodeJS.Signals | undefined;
  private readonly steps: Array<() => Promise<void> | void> = [];
  private running: Promise<void> | undefined;

  add(step: () => Promise<void> | void): void {
    this.steps.push(step);
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse())
        await Promise.resolve()
          .then(step)
          .catch(() => {});
    })();
    return this.running;
  }
}

const STOP_SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

/** On the first stop signal: tear down, then exit 128 + its number. A second one is not waited for. */
function stopOnSignals(teardown: Teardown): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    if (teardown.signal !== undefined) return;
    teardown.signal = signal;
    process.stderr.write(`\ndemo stopped (${signal}): stopping its engine and private Redis\n`);
    void teardown.run().then(() => process.exit(128 + STOP_SIGNALS[signal as keyof typeof STOP_SIGNALS]));
  };
  for (const signal of Object.keys(STOP_SIGNALS)) process.on(signal, handler);
  return () => {
    for (const signal of Object.keys(STOP_SIGNALS)) process.off(signal, handler);
  };
}

async function demo(plan: RecoveryPlan, hash: string, flags: DemoFlags, teardown: Teardown): Promise<void> {
  const started = Date.now();
  const redis = await acquireRedis();
  teardown.add(() => redis.release());
  if (teardown.signal !== undefined) return;
  const prefix = `demo-${Date.now().toString(36)}`;
  const log = createLogger('demo', { level: process.env.LOG_LEVEL ?? 'warn' });
  process.stdout.write(
    `Redis: ${redis.private ? `private redis-server at ${redis.url}` : redis.url} (prefix ${prefix})\n`,
  );
  const actions = await demoActions(plan);
  teardown.add(() => actions.close());
  const world = worldForPlan(plan, {
    clock: { mode: 'scaled', speed: flags.speed },
    warmupMs: 9 * 3_600_000,
  });
  world.start();
  teardown.add(() => world.close());
  process.stdout.write(
    `World: ${world.vmNames().length} VMs at ${plan.source}, replicating to ${plan.target}; time runs ${flags.speed}× faster\n`,
  );
  const workers = [plan.source, plan.target, 'control'].map((site) =>
    startSiteWorkers({
      redisUrl: redis.url,
      prefix,
      site,
      api: world.api,
      logger: log,
      handlers: { scriptCatalog: actions.catalog },
    }),
  );
  teardown.add(() => Promise.all(workers.map((w) => w.close(5000))).then(() => {}));
  const orchestrator = await startOrchestrator({
    redisUrl: redis.url,
    prefix,
    compile: compilePlan,
    logger: log,
  });
  teardown.add(() => orchestrator.close(5000));
  const client = createRedisExecutionClient({
    redisUrl: redis.url,
    prefix,
    compile: compilePlan,
    inventory: world.api,
  });
  teardown.add(() => client.close());
  await Promise.all(workers.map((w) => w.ready()));
  const drill = await run(client, plan, hash, 'test', flags.speed);
  process.stdout.write(`\n== CLEANUP of ${drill} ==\n`);
  const cleanup = await client.cleanup(drill, { reason: 'drctl demo: drill finished', by: 'demo' });
  const cleaned = await watchExecution(client, cleanup.id, { speed: flags.speed });
  for (const line of summaryLines(cleaned, { speed: flags.speed })) process.stdout.write(`${line}\n`);
  const testVms = (await world.api.listVMs(plan.target)).filter((vm) => vm.isTest).length;
  const touched = plan.vms.filter(
    (vm) => Object.keys(world.truth().mutations[vm.name]?.[plan.source] ?? {}).length > 0,
  );
  process.stdout.write(
    `test VMs left: ${testVms}; mutating calls on production during the drill: ${touched.length}\n`,
  );
  const failover = await run(client, plan, hash, 'planned', flags.speed);
  const truth = world.truth();
  const primaries = plan.vms.map((vm) => `${vm.name}@${truth.vms[vm.name]?.primarySites.join('+') ?? '?'}`);
  process.stdout.write(
    `\nprimaries now: ${primaries.join(', ')}; split-brain intervals: ${truth.splitBrain.length}\n`,
  );
  // The engine's claims are above (summary); the simulator's ledger judges them here.
  const lost = truth.failovers
    .filter((f) => f.kind === 'planned' && f.cancelledAt === undefined)
    .map((f) => `${f.vm} ${f.lostWrites}`);
  process.stdout.write(
    `simulator ground truth (the judge, not seen by the engine): lost writes ${lost.join(', ') || 'none'}\n`,
  );
  process.stdout.write(
    `demo done in ${formatElapsed(Date.now() - started)} wall (executions ${drill}, ${cleanup.id}, ${failover})\n`,
  );
}
