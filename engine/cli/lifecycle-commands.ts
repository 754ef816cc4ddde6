/**
 * A failover's lifecycle: `drctl commit | change-point | cancel <execution>`, `drctl reprotect |
 * failback <plan.yaml>`. Each runs as an execution of its own that the orchestrator drives; these
 * commands ask for it and follow it (progress on a TTY, the timeline, --json, --detach), through
 * the control plane (`--server`, DR_SERVER) or with the engine in this process (REDIS_URL, --sim).
 * Refusals say why and what to do instead (exit 2).
 */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import {
  createHttpLifecycleClient,
  createRedisLifecycleClient,
  type ExecutionView,
  type LifecycleClient,
} from '../client/index.ts';
import { InputError } from '../common/index.ts';
import {
  createQueueConnection,
  type DiscardDiverged,
  isLifecycleType,
  type LifecycleInfo,
  type LifecycleRunInfo,
  pointOfNoReturn,
  readLifecycle,
  readLifecycleRun,
} from '../executor/index.ts';
import { compilePlan } from '../plan/index.ts';
import type { RecoveryPointChoice } from '../plan/types.ts';
import { connectHostDriver, SIM_OPTION_HELP, simUrlFrom } from './host-driver.ts';
import { runFailback } from './lifecycle/failback.ts';
import { submitAndFollow } from './lifecycle/follow.ts';
import {
  type CommonFlags,
  loadPlanOrExit,
  PREFIX_OPTION,
  parseRecoveryPoint,
  redisUrlFromEnv,
} from './run/common.ts';
import { refuseDirectFlags, SERVER_OPTION, serverOf } from './server-option.ts';

interface LifecycleFlags extends CommonFlags {
  reason?: string;
  detach?: boolean;
  partial?: boolean;
  recoveryPoint?: RecoveryPointChoice;
  sim?: string;
  server?: string;
  dryRun?: boolean;
}

function whoAmI(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/**
 * The lifecycle client of this command: the control plane's when `--server` or DR_SERVER names
 * one, else the engine in this process, whose pre-flight reads the sites through `--sim` (else
 * DR_SIM_URL) before a `what`.
 */
async function withLifecycle<T>(
  flags: LifecycleFlags,
  command: Command,
  what: string,
  body: (client: LifecycleClient) => Promise<T>,
): Promise<T> {
  const server = serverOf(flags);
  if (server !== undefined) refuseDirectFlags(command, server);
  const hosts =
    server === undefined
      ? connectHostDriver(simUrlFrom(flags.sim, `pre-flight reads the sites before a ${what}`))
      : undefined;
  let client: LifecycleClient;
  try {
    client =
      server !== undefined
        ? createHttpLifecycleClient(server)
        : createRedisLifecycleClient({
            redisUrl: await redisUrlFromEnv(),
            prefix: flags.prefix,
            compile: compilePlan,
            ...(hosts === undefined ? {} : { hosts }),
          });
  } catch (error) {
    hosts?.close();
    throw error;
  }
  try {
    return await body(client);
  } finally {
    await client.close();
    hosts?.close();
  }
}

/** The options of an operation with a pre-flight of its own (not failback: that is a failover's). */
function withDryRun(command: Command): Command {
  return command.option(
    '--dry-run',
    'pre-flight only: say what would be done and what blocks it, change nothing',
  );
}

function lifecycleOptions(command: Command): Command {
  return command
    .option('--reason <text>', 'why (kept with the execution)')
    .option('--detach', 'return at once with the execution id')
    .option(...SERVER_OPTION)
    .option('--sim <url>', SIM_OPTION_HELP)
    .option(...PREFIX_OPTION)
    .option('--json', 'machine-readable output');
}

const dryRunOf = (flags: LifecycleFlags) => (flags.dryRun ? { dryRun: true } : {});

export function registerLifecycleCommands(program: Command): void {
  withDryRun(lifecycleOptions(program.command('commit <execution>')))
    .description(
      'Complete a failover (Complete-VMFailover on every failed-over VM; other recovery points are discarded: the point of no return)',
    )
    .option('--partial', 'commit the VMs that failed over when some did not (they are recorded)')
    .action((failover: string, flags: LifecycleFlags, command: Command) =>
      withLifecycle(flags, command, 'commit', (client) => {
        const by = whoAmI();
        return submitAndFollow(client, { ...flags, by }, () =>
          client.commit(failover, {
            by,
            reason: flags.reason ?? 'commit from the CLI',
            ...dryRunOf(flags),
            ...(flags.partial ? { partial: true } : {}),
          }),
        );
      }),
    );

  withDryRun(lifecycleOptions(program.command('change-point <execution>')))
    .description(
      'Before commit: fail the VMs over again from another recovery point (the way out after replicated ransomware)',
    )
    .requiredOption(
      '--recovery-point <point>',
      'latest | latestProcessed | latestAppConsistent | <ISO time>',
      parseRecoveryPoint,
    )
    .action((failover: string, flags: LifecycleFlags, command: Command) =>
      withLifecycle(flags, command, 'change of recovery point', (client) => {
        const recoveryPoint = flags.recoveryPoint;
        if (recoveryPoint === undefined) throw new InputError('NO_POINT', 'give --recovery-point');
        const by = whoAmI();
        return submitAndFollow(client, { ...flags, by }, () =>
          client.changePoint(failover, {
            by,
            reason: flags.reason ?? `change of recovery point to ${describePoint(recoveryPoint)}`,
            recoveryPoint,
            ...dryRunOf(flags),
          }),
        );
      }),
    );

  withDryRun(lifecycleOptions(program.command('cancel <execution>')))
    .description(
      'Roll a failover back before its point of no return (a running one stops dispatching first); undo actions run',
    )
    .action((failover: string, flags: LifecycleFlags, command: Command) =>
      withLifecycle(flags, command, 'cancel', (client) => {
        const by = whoAmI();
        return submitAndFollow(client, { ...flags, by }, () =>
          client.cancel(failover, { by, reason: flags.reason ?? 'cancel from the CLI', ...dryRunOf(flags) }),
        );
      }),
    );

  withDryRun(lifecycleOptions(program.command('reprotect <plan>')))
    .description(
      "Reverse replication of the plan's failed-over VMs (Set-VMReplication -Reverse) and follow it until healthy",
    )
    .option(
      '--discard-diverged <vms>',
      'VMs (comma-separated, or all) whose old primaries ran in two sites: let the reverse overwrite what they wrote meanwhile (needs --reason; recorded)',
    )
    .action((file: string, flags: LifecycleFlags & { discardDiverged?: string }, command: Command) =>
      withLifecycle(flags, command, 'reprotect', async (client) => {
        const discard = discardOf(flags);
        const { plan, text } = await loadPlanOrExit(file);
        const by = whoAmI();
        await submitAndFollow(
          client,
          { ...flags, by },
          async () => {
            const submitted = await client.reprotect(
              { plan: plan.metadata.name, file },
              {
                by,
                ...(flags.reason === undefined ? {} : { reason: flags.reason }),
                ...(discard ? { discardDiverged: discard } : {}),
                ...dryRunOf(flags),
              },
            );
            if (discard && !flags.json && !submitted.dryRun)
              process.stdout.write(
                `the diverged writes of ${discard.vms === 'all' ? 'every diverged VM' : discard.vms.join(', ')} will be overwritten, as ${discard.by} asked: ${discard.reason}\n`,
              );
            return submitted;
          },
          { name: file, plan, text },
        );
      }),
    );

  lifecycleOptions(program.command('failback <plan>'))
    .description(
      'Planned failover back to the original site, then reprotect in the original direction: one operation the engine runs to its end (--detach returns at once)',
    )
    .option('--approve-manual', "count the plan's manual actions as approved (unattended runs)")
    .action(async (file: string, flags: LifecycleFlags & { approveManual?: boolean }, command: Command) => {
      const loaded = await loadPlanOrExit(file);
      await withLifecycle(flags, command, 'failback', (client) =>
        runFailback(client, { name: file, ...loaded }, { ...flags, by: whoAmI() }),
      );
    });
}

/** `--discard-diverged a,b|all` with its `--reason` (required: the acknowledgement is recorded). */
function discardOf(flags: LifecycleFlags & { discardDiverged?: string }): DiscardDiverged | undefined {
  if (flags.discardDiverged === undefined) return undefined;
  const raw = flags.discardDiverged.trim();
  const vms =
    raw === 'all'
      ? 'all'
      : raw
          .split(',')
          .map((vm) => vm.trim())
          .filter((vm) => vm !== '');
  if (vms !== 'all' && vms.length === 0)
    throw new InputError('BAD_DISCARD', '--discard-diverged: name the VMs (comma-separated) or all');
  if (flags.reason === undefined || flags.reason.trim() === '')
    throw new InputError(
      'REASON_REQUIRED',
      '--discard-diverged needs --reason "<why>": discarding what an old primary wrote is recorded with who and why',
    );
  return { vms, by: whoAmI(), reason: flags.reason, givenAt: new Date().toISOString() };
}

function describePoint(point: RecoveryPointChoice): string {
  return point.kind === 'at' ? point.at : point.kind;
}

/**
 * For `drctl status`: a failover's point of no return and its lifecycle executions; for a
 * lifecycle execution, what it acts on and leaves out. Empty for other executions. `read`: where
 * the lifecycle records come from (the control plane's API); @defaultValue REDIS_URL
 */
export async function lifecycleStatus(
  prefix: string,
  view: ExecutionView,
  read?: {
    failover(id: string): Promise<LifecycleInfo>;
    run(id: string): Promise<LifecycleRunInfo | undefined>;
  },
): Promise<{ lifecycle?: Record<string, unknown>; lines: string[] }> {
  const failover = view.type === 'planned' || view.type === 'unplanned';
  const lifecycleRun = isLifecycleType(view.type);
  if (!failover && !lifecycleRun) return { lines: [] };
  let records = read;
  let redis: Redis | undefined;
  if (records === undefined) {
    const own = createQueueConnection(await redisUrlFromEnv(), { name: 'drctl-status' });
    redis = own;
    records = {
      failover: (id: string) => readLifecycle(own, prefix, id),
      run: (id: string) => readLifecycleRun(own, prefix, id),
    };
  }
  try {
    if (failover) {
      const info = await records.failover(view.id);
      const noReturn = pointOfNoReturn(view);
      const lines = [`point of no return: ${noReturn.why}`];
      for (const run of info.runs)
        lines.push(`  ${run.type.padEnd(12)} ${run.id}  ${run.at}  ${run.by}: ${run.reason}`);
      if (info.pendingCancel)
        lines.push(`  cancel requested: ${info.pendingCancel.id} runs once the steps in flight end`);
      if (info.notCommitted?.length)
        lines.push(`  partial commit left out: ${info.notCommitted.map((n) => n.vm).join(', ')}`);
      return { lifecycle: { ...info, pointOfNoReturn: noReturn }, lines };
    }
    const run = await records.run(view.id);
    if (run === undefined) return { lines: [] };
    const lines = [`${view.type} of ${run.vms.length} VM(s)${run.partial ? ' (partial)' : ''}`];
    for (const s of run.skipped) lines.push(`  left out ${s.vm}: ${s.reason}`);
    if (run.notUndone?.length)
      lines.push(`  actions with no undo (undo by hand): ${run.notUndone.join(', ')}`);
    return { lifecycle: { ...run }, lines };
  } finally {
    redis?.disconnect();
  }
}
