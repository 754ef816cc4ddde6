import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { Redis } from 'ioredis';
import { InputError } from '../common/index.ts';
import { readServedCatalogs } from '../executor/index.ts';
import { createLockReader, DEFAULT_LOCK_PREFIX } from '../locks/index.ts';
import {
  createPathLocator,
  type FailoverType,
  formatIssue,
  parsePlan,
  type RecoveryPlan,
  type RecoveryPointChoice,
} from '../plan/index.ts';
import { formatPreflightReport, locateReport, runPreflight, selectionFromFlags } from '../preflight/index.ts';
import { checkRedisUrl } from '../redis/index.ts';
import { connectHostDriver, SIM_OPTION_HELP, simUrlFrom } from './host-driver.ts';
import { connectClient, SERVER_OPTION, usesServer } from './run/connect.ts';

interface PreflightFlags {
  type: FailoverType;
  failback?: boolean;
  vms?: string;
  group?: string;
  recoveryPoint?: RecoveryPointChoice;
  maxUtilization?: number;
  exactPoints?: boolean;
  accept?: string;
  sim?: string;
  server?: string;
  prefix: string;
  json?: boolean;
}

/**
 * `drctl preflight <plan>`: the checks a run makes before it touches anything, and what
 * `--dry-run` shows (host, recovery point and RTO estimate per VM), without starting anything or
 * taking a lock. Reads locks from REDIS_URL when it is set; with `--server` / DR_SERVER the
 * control plane runs it (sites, locks and catalogs as a run would see them). Exit 0 when nothing blocks, 1 when
 * something does, 2 for bad input.
 */
export function registerPreflightCommand(program: Command): void {
  program
    .command('preflight')
    .description(
      'Pre-flight: check a plan against the sites before a run (the --dry-run view); starts nothing',
    )
    .argument('<plan>', 'recovery plan YAML file')
    .addOption(
      new Option('--type <type>', 'run to check').choices(['test', 'planned', 'unplanned']).default('test'),
    )
    .option('--failback', 'check the way back (spec.target → spec.source)')
    .option('--vms <names>', 'only these VMs, comma-separated')
    .option('--group <n|name>', 'only this ordered group (numbered from 1)')
    .option(
      '--recovery-point <choice>',
      'latest | latestProcessed | latestAppConsistent | ISO time',
      parseChoice,
    )
    .option(
      '--max-utilization <ratio>',
      'block above this share of target capacity (0.8 keeps 20 % headroom)',
      parseRatio,
    )
    .option('--accept <codes>', 'accept these blockers for this run, comma-separated (e.g. RPO_NOT_MET)')
    .option('--exact-points', "list every VM's recovery points (one call per VM) for exact ids")
    .option('--sim <url>', SIM_OPTION_HELP)
    .option(...SERVER_OPTION)
    .option('--prefix <prefix>', 'Redis key prefix of the engine (for locks)', DEFAULT_LOCK_PREFIX)
    .option('--json', 'machine-readable report')
    .action(async (file: string, flags: PreflightFlags) => {
      process.exitCode = await preflightCommand(file, flags);
    });
}

async function preflightCommand(file: string, flags: PreflightFlags): Promise<number> {
  const text = await readFile(file, 'utf8').catch((cause: unknown) => {
    throw new InputError('PLAN_UNREADABLE', `${file}: cannot read the plan (${String(cause)})`);
  });
  const parsed = parsePlan(text, file);
  if (!parsed.ok) {
    throw new InputError(
      'PLAN_INVALID',
      `${file} is not a valid recovery plan:\n${parsed.issues.map(formatIssue).join('\n')}`,
    );
  }
  if (usesServer(flags)) return await preflightOnServer(file, text, parsed.plan, flags);
  const simUrl = simUrlFrom(flags.sim, 'pre-flight reads the sites');
  const api = connectHostDriver(simUrl);
  // Set but unreachable: one line saying why (connection refused at <url>...), not a stack trace.
  const redisUrl = process.env.REDIS_URL ? await checkRedisUrl(process.env.REDIS_URL) : undefined;
  const redis = redisUrl ? new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true }) : undefined;
  redis?.on('error', () => {});
  try {
    if (redis !== undefined) await redis.connect();
    const report = await runPreflight({
      plan: parsed.plan,
      api,
      type: flags.type,
      direction: flags.failback ? 'failback' : 'forward',
      selection: selectionFromFlags(flags),
      ...(flags.recoveryPoint === undefined ? {} : { recoveryPoint: flags.recoveryPoint }),
      ...(flags.maxUtilization === undefined ? {} : { maxUtilization: flags.maxUtilization }),
      ...(flags.exactPoints ? { points: 'all' as const } : {}),
      ...(flags.accept === undefined ? {} : { accept: flags.accept.split(',').map((code) => code.trim()) }),
      ...(redis === undefined
        ? {}
        : {
            locks: createLockReader(redis, flags.prefix),
            catalogs: (site: string) => readServedCatalogs(redis, flags.prefix, site),
          }),
      locate: createPathLocator(text),
    });
    if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(`${formatPreflightReport(report, { file, placements: true })}\n`);
    return report.ok ? 0 : 1;
  } finally {
    api.close();
    redis?.disconnect();
  }
}

/** The same checks on the control plane, which reads the sites, the locks and the catalogs itself. */
async function preflightOnServer(
  file: string,
  text: string,
  plan: RecoveryPlan,
  flags: PreflightFlags,
): Promise<number> {
  const { client, close } = await connectClient(flags);
  try {
    const report = locateReport(
      await client.preflight({
        plan,
        source: { file, text },
        type: flags.type,
        direction: flags.failback ? 'failback' : 'forward',
        selection: selectionFromFlags(flags),
        ...(flags.recoveryPoint === undefined ? {} : { recoveryPoint: flags.recoveryPoint }),
        ...(flags.maxUtilization === undefined ? {} : { maxUtilization: flags.maxUtilization }),
        ...(flags.exactPoints ? { exactPoints: true } : {}),
        ...(flags.accept === undefined ? {} : { accept: flags.accept.split(',').map((code) => code.trim()) }),
      }),
      createPathLocator(text),
    );
    if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(`${formatPreflightReport(report, { file, placements: true })}\n`);
    return report.ok ? 0 : 1;
  } finally {
    await close();
  }
}

function parseChoice(value: string): RecoveryPointChoice {
  if (value === 'latest' || value === 'latestProcessed' || value === 'latestAppConsistent')
    return { kind: value };
  if (!Number.isNaN(Date.parse(value))) return { kind: 'at', at: new Date(value).toISOString() };
  throw new InvalidArgumentError('use latest, latestProcessed, latestAppConsistent or an ISO time');
}

function parseRatio(value: string): number {
  const ratio = Number(value);
  if (!(ratio > 0 && ratio <= 1)) throw new InvalidArgumentError('a ratio in (0, 1], e.g. 0.8');
  return ratio;
}
