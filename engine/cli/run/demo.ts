/**
 * `drctl demo`: the production path in one process with embedded defaults: a private
 * redis-server unless REDIS_URL is set, the simulated world of the three-tier example (scaled
 * clock), the control plane on a free port and one agent per site (demo-engine.ts); then, through
 * the control plane's API as `drctl` with DR_SERVER, a drill with its cleanup and a planned
 * failover, with live progress, the timeline, the achieved RTO and the engine's data-loss claims,
 * with the simulator's ledger beside them as the judge (the demo wiring may read it; the engine
 * never does).
 */
import { type Command, InvalidArgumentError } from 'commander';
import { worldForPlan } from '../../../simulators/index.ts';
import type { ExecutionClient } from '../../client/index.ts';
import { createLogger, formatElapsed } from '../../common/index.ts';
import type { FailoverType, RecoveryPlan } from '../../plan/types.ts';
import { preflightSummaryLine } from '../../preflight/index.ts';
import { acquireRedis } from '../../redis/index.ts';
import { loadPlanOrExit } from './common.ts';
import { startDemoActions, withWebhooksTo } from './demo-actions.ts';
import { startDemoEngine } from './demo-engine.ts';
import { summaryLines } from './summary.ts';
import { watchExecution } from './watch.ts';

interface DemoFlags {
  plan: string;
  speed: number;
}

/** The plan as the demo runs it: the YAML sent to the control plane, and what it parsed to. */
interface DemoPlan {
  plan: RecoveryPlan;
  hash: string;
  source: { file: string; text: string };
}

async function run(
  client: ExecutionClient,
  demoPlan: DemoPlan,
  type: FailoverType,
  speed: number,
): Promise<string> {
  const { plan, hash, source } = demoPlan;
  const title = type === 'test' ? 'DRILL (test failover)' : `${type.toUpperCase()} FAILOVER`;
  process.stdout.write(`\n== ${title} of ${plan.metadata.name}: ${plan.source} → ${plan.target} ==\n`);
  const { id, preflight } = await client.submit({
    type,
    plan,
    hash,
    source,
    reason: `drctl demo: ${title.toLowerCase()}`,
    approveManual: true,
  });
  process.stdout.write(`${preflightSummaryLine(preflight)}\n`);
  const view = await watchExecution(client, id, { speed });
  for (const line of summaryLines(view, { speed })) process.stdout.write(`${line}\n`);
  return id;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n))
    throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'Drill, cleanup and planned failover of the three-tier example through the control plane and one agent per site, all in this process',
    )
    .option('--plan <file>', 'plan to run', 'plans/examples/three-tier.yaml')
    .option('--speed <n>', 'simulated ms per real ms', positiveNumber, 60)
    .action(async (flags: DemoFlags) => {
      const loaded = await loadPlanOrExit(flags.plan);
      const teardown = new Teardown();
      const stop = stopOnSignals(teardown);
      try {
        await demo(loaded, flags, teardown);
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

async function demo(
  loaded: { plan: RecoveryPlan; text: string },
  flags: DemoFlags,
  teardown: Teardown,
): Promise<void> {
  const started = Date.now();
  const redis = await acquireRedis();
  teardown.add(() => redis.release());
  if (teardown.signal !== undefined) return;
  const prefix = `demo-${Date.now().toString(36)}`;
  const log = createLogger('demo', { level: process.env.LOG_LEVEL ?? 'warn' });
  process.stdout.write(
    `Redis: ${redis.private ? `private redis-server at ${redis.url}` : redis.url} (prefix ${prefix})\n`,
  );
  const actions = await startDemoActions(loaded.plan);
  teardown.add(() => actions.close());
  const demoPlan = withWebhooksTo(loaded.text, flags.plan, actions.webhookUrl);
  const { plan } = demoPlan;
  const world = worldForPlan(plan, {
    clock: { mode: 'scaled', speed: flags.speed },
    warmupMs: 9 * 3_600_000,
  });
  world.start();
  teardown.add(() => world.close());
  process.stdout.write(
    `World: ${world.vmNames().length} VMs at ${plan.source}, replicating to ${plan.target}; time runs ${flags.speed}× faster\n`,
  );
  const engine = await startDemoEngine({
    redisUrl: redis.url,
    prefix,
    hosts: world.api,
    speed: flags.speed,
    scriptCatalog: actions.catalog,
    logger: log,
    started: (close) => teardown.add(close),
    stopping: () => teardown.signal !== undefined,
  });
  if (engine === undefined) return;
  process.stdout.write(
    `Engine: control plane at ${engine.control.url} (API over HTTPS, vault, orchestrator) and one agent per site (${engine.sites.join(', ')}) over mutual TLS with a certificate from the vault, the only part that touches its hosts; driven over the API with an admin token as \`DR_SERVER=${engine.control.url} DR_CA_FILE=${engine.caFile} drctl\` is\n`,
  );
  const { client } = engine.connection;
  const drill = await run(client, demoPlan, 'test', flags.speed);
  process.stdout.write(`\n== CLEANUP of ${drill} ==\n`);
  const cleanup = await client.cleanup(drill, { reason: 'drctl demo: drill finished' });
  const cleaned = await watchExecution(client, cleanup.id, { speed: flags.speed });
  for (const line of summaryLines(cleaned, { speed: flags.speed })) process.stdout.write(`${line}\n`);
  const testVms = (await world.api.listVMs(plan.target)).filter((vm) => vm.isTest).length;
  const touched = plan.vms.filter(
    (vm) => Object.keys(world.truth().mutations[vm.name]?.[plan.source] ?? {}).length > 0,
  );
  process.stdout.write(
    `test VMs left: ${testVms}; mutating calls on production during the drill: ${touched.length}\n`,
  );
  const failover = await run(client, demoPlan, 'planned', flags.speed);
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
