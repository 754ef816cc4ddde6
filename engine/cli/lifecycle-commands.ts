/**
 * A failover's lifecycle: `drctl commit | change-point | cancel <execution>`, `drctl reprotect |
 * failback <plan.yaml>`. Each runs as an execution of its own (engine/executor store/lifecycle.ts)
 * that the orchestrator drives; these commands submit it and follow it (progress on a TTY, the
 * timeline, --json, --detach). Refusals say why and what to do instead (exit 2).
 */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import type { ExecutionClient, ExecutionView } from '../client/index.ts';
import { DrError, formatElapsed, InputError } from '../common/index.ts';
import {
  createQueueConnection,
  type DiscardDiverged,
  EXECUTION_STATUSES,
  failbackPhaseLine,
  isLifecycleType,
  type LifecycleInfo,
  type LifecycleRunInfo,
  type LifecycleSubmitted,
  latestFailoverOf,
  pointOfNoReturn,
  readEvents,
  readLifecycle,
  readLifecycleRun,
  recordRunningOldPrimaries,
  submitCancel,
  submitChangePoint,
  submitCommit,
  submitReprotect,
} from '../executor/index.ts';
import type { HostDriver } from '../hosts/index.ts';
import { createPathLocator } from '../plan/index.ts';
import type { RecoveryPlan, RecoveryPointChoice } from '../plan/types.ts';
import {
  formatLifecycleReport,
  type HyperVReadApi,
  LifecycleBlockedError,
  type LifecycleReport,
  locateLifecycleReport,
  PreflightBlockedError,
} from '../preflight/index.ts';
import { connectHostDriver, SIM_OPTION_HELP, simUrlFrom } from './host-driver.ts';
import {
  type CommonFlags,
  loadPlanOrExit,
  openClient,
  PREFIX_OPTION,
  parseRecoveryPoint,
  printDetached,
  printJson,
  redisUrlFromEnv,
} from './run/common.ts';
import { whileFollowing } from './run/interrupt.ts';
import { summaryLines } from './run/summary.ts';
import { watchExecution } from './run/watch.ts';

interface LifecycleFlags extends CommonFlags {
  reason?: string;
  detach?: boolean;
  partial?: boolean;
  recoveryPoint?: RecoveryPointChoice;
  sim?: string;
  dryRun?: boolean;
}

function whoAmI(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** The sites pre-flight reads before a lifecycle operation: `--sim`, else DR_SIM_URL. */
function simUrlOf(flags: LifecycleFlags, what: string): string {
  return simUrlFrom(flags.sim, `pre-flight reads the sites before a ${what}`);
}

async function withRedis<T>(
  flags: LifecycleFlags,
  what: string,
  body: (redis: Redis, client: ExecutionClient, hosts: HostDriver) => Promise<T>,
): Promise<T> {
  const hosts = connectHostDriver(simUrlOf(flags, what));
  const url = await redisUrlFromEnv();
  const redis = createQueueConnection(url, { name: 'drctl-lifecycle' });
  const client = await openClient(flags, url);
  try {
    return await body(redis, client, hosts);
  } finally {
    await client.close();
    hosts.close();
    await redis.quit().catch(() => redis.disconnect());
  }
}

/**
 * Submit a lifecycle operation behind its pre-flight, then follow it. Blockers print the report
 * (exit 1, nothing changed); `--dry-run` prints it and stops.
 */
async function submitAndFollow(
  redis: Redis,
  client: ExecutionClient,
  flags: LifecycleFlags,
  hosts: HyperVReadApi,
  submit: () => Promise<LifecycleSubmitted>,
  file?: { name: string; plan: RecoveryPlan; text: string },
): Promise<void> {
  const located = (report: LifecycleReport): LifecycleReport =>
    file === undefined ? report : locateLifecycleReport(report, file.plan, createPathLocator(file.text));
  const format = (report: LifecycleReport): string =>
    formatLifecycleReport(located(report), file === undefined ? {} : { file: file.name });
  let submitted: LifecycleSubmitted;
  try {
    submitted = await submit();
  } catch (error) {
    if (!(error instanceof LifecycleBlockedError)) throw error;
    process.exitCode = 1;
    if (flags.json) printJson({ ok: false, code: error.code, preflight: located(error.report) });
    else process.stdout.write(`${format(error.report)}\n`);
    return;
  }
  if (submitted.dryRun) {
    const report = submitted.preflight === undefined ? undefined : located(submitted.preflight);
    if (flags.json) printJson({ ok: true, dryRun: true, preflight: report });
    else if (submitted.preflight) process.stdout.write(`${format(submitted.preflight)}\n`);
    return;
  }
  if (submitted.preflight && !flags.json) {
    const report = submitted.preflight;
    const warned = report.warnings.length === 0 ? '' : `, ${report.warnings.length} warning(s)`;
    process.stdout.write(`pre-flight ok: ${report.vms.length} VM(s)${warned}\n`);
    for (const line of format(report).split('\n').slice(1, -1))
      if (line.includes(' warning ')) process.stdout.write(`${line}\n`);
  }
  await follow(redis, client, submitted, flags, flags.prefix, hosts);
}

/** The settled statuses of a lifecycle execution and of a failover (a cancel waits on it first). */
const DONE = ['completed', 'failed', 'cancelled'];

/** Follow a submitted lifecycle execution to its end and print its outcome. */
async function follow(
  redis: Redis,
  client: ExecutionClient,
  submitted: LifecycleSubmitted,
  flags: LifecycleFlags,
  prefix: string,
  hosts?: HyperVReadApi,
): Promise<ExecutionView | undefined> {
  const out = flags.json ? process.stderr : process.stdout;
  if (!submitted.created && !flags.json) out.write(`already submitted: ${submitted.id}\n`);
  const run = submitted.run ?? (await readLifecycleRun(redis, prefix, submitted.id).catch(() => undefined));
  if (run && !flags.json) {
    out.write(
      `${submitted.id}: ${run.vms.length} VM(s) of ${run.parent}${run.partial ? ' (partial)' : ''}\n`,
    );
    for (const s of run.skipped) out.write(`  left out ${s.vm}: ${s.reason}\n`);
    if (run.undone?.length) out.write(`  undo actions to run: ${run.undone.join(', ')}\n`);
    if (run.notUndone?.length)
      out.write(`  actions that ran and have no undo (undo them by hand): ${run.notUndone.join(', ')}\n`);
  }
  if (flags.detach) {
    printDetached(submitted.id, flags, {
      execution: submitted.id,
      created: submitted.created,
      ...(submitted.pendingCancelOf ? { after: submitted.pendingCancelOf } : {}),
      ...(run ? { run } : {}),
    });
    return undefined;
  }
  // Ctrl-C while waiting for a running failover's rollback names the failover, then the rollback.
  const first = submitted.pendingCancelOf ?? submitted.id;
  const view = await whileFollowing({ id: first, prefix }, () =>
    followToEnd(redis, client, submitted, flags, prefix, out, hosts),
  );
  if (view.status !== 'completed') process.exitCode = 1;
  return view;
}

async function followToEnd(
  redis: Redis,
  client: ExecutionClient,
  submitted: LifecycleSubmitted,
  flags: LifecycleFlags,
  prefix: string,
  out: NodeJS.WriteStream,
  hosts: HyperVReadApi | undefined,
): Promise<ExecutionView> {
  if (submitted.pendingCancelOf !== undefined) {
    if (!flags.json)
      out.write(
        `${submitted.pendingCancelOf} is running: no new step starts; its rollback ${submitted.id} follows once the steps in flight end\n`,
      );
    await waitUntilExists(redis, prefix, submitted.id, submitted.pendingCancelOf, client, hosts);
  }
  if (/-reprotect-\d+$/.test(submitted.id) && !flags.json)
    await reportReversed(redis, prefix, submitted.id, out);
  const view = await watchExecution(client, submitted.id, {
    until: DONE,
    explainInterrupt: { prefix },
    ...(flags.json ? { timeline: false, out: process.stderr } : {}),
  });
  const lifecycleRun = await readLifecycleRun(redis, prefix, submitted.id);
  const resync = view.type === 'reprotect' ? await resyncRows(redis, prefix, view.id) : undefined;
  if (flags.json) {
    printJson({
      ...view,
      ...(lifecycleRun ? { lifecycle: lifecycleRun } : {}),
      ...(resync ? { resync: [...resync].map(([vm, row]) => ({ vm, ...row })) } : {}),
    });
  } else {
    for (const line of summaryLines(view)) process.stdout.write(`${line}\n`);
    if (resync) for (const line of resyncLines(resync)) process.stdout.write(`${line}\n`);
    if (view.parent) {
      const parent = await client.get(view.parent);
      process.stdout.write(`failover ${parent.id} is now ${parent.status}\n`);
    }
  }
  return view;
}

/** Statuses of a thenReprotect failback once its failover back ended (well or not). */
const FAILBACK_PHASE_1_ENDED = EXECUTION_STATUSES.filter(
  (s) => s !== 'submitted' && s !== 'running' && s !== 'paused',
);

/** The orchestrator stores a failback's reprotect right after the failback's end: wait for it. */
async function waitForExecution(redis: Redis, prefix: string, id: string): Promise<void> {
  const since = Date.now();
  let hinted = false;
  while ((await redis.exists(`${prefix}:{exec:${id}}:meta`)) !== 1) {
    if (!hinted && Date.now() - since > 5000) {
      process.stderr.write(
        `the reprotect ${id} is not stored yet: it is the orchestrator's to store; is \`drctl orchestrator\` running against this Redis and prefix?\n`,
      );
      hinted = true;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A running failover's rollback is stored once it settles: wait for it (or for the failover to end otherwise). */
async function waitUntilExists(
  redis: Redis,
  prefix: string,
  id: string,
  failover: string,
  client: ExecutionClient,
  hosts: HyperVReadApi | undefined,
): Promise<void> {
  for (;;) {
    if ((await redis.exists(`${prefix}:{exec:${id}}:meta`)) === 1) return;
    const parent = await client.get(failover);
    // Settled but its rollback not stored (the orchestrator stores it: it may have stopped in
    // between): store it, behind the cancel's pre-flight, when the sites are at hand.
    if (parent.status === 'cancelling' && hosts)
      await submitCancel(redis, prefix, failover, { by: whoAmI(), reason: 'cancel', hosts });
    if (!['submitted', 'running', 'paused', 'cancelling'].includes(parent.status)) {
      throw new DrError(
        'CANCEL_NOT_STARTED',
        `failover ${failover} ended ${parent.status} before its rollback was stored; run \`drctl cancel ${failover}\` again`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Once every VM of a reprotect is reversed, say how much must be resynchronized and how long it
 * should take, before following the replication until it is healthy.
 */
async function reportReversed(
  redis: Redis,
  prefix: string,
  id: string,
  out: NodeJS.WriteStream,
): Promise<void> {
  const run = await readLifecycleRun(redis, prefix, id);
  if (run === undefined || run.vms.length === 0) return;
  const key = `${prefix}:{exec:${id}}:steps`;
  const fields = run.vms.map((vm) => `${vm}/reprotect`);
  for (;;) {
    const states = await redis.hmget(key, ...fields);
    if (states.every((s) => s !== null && !s.startsWith('q|'))) break;
    const status = await redis.hget(`${prefix}:{exec:${id}}:meta`, 'status');
    if (status !== 'submitted' && status !== 'running' && status !== 'paused') return;
    await new Promise((r) => setTimeout(r, 250));
  }
  const rows = await resyncRows(redis, prefix, id);
  const total = [...rows.values()].reduce((sum, r) => sum + (r.bytes ?? 0), 0);
  const longest = [...rows.values()].reduce((max, r) => Math.max(max, r.estimateMs ?? 0), 0);
  out.write(
    `${rows.size} VM(s) reversed: ${(total / 1024 / 1024).toFixed(1)} MiB to resynchronize, about ${formatElapsed(longest)} simulated; following until health is Normal\n`,
  );
}

interface ResyncRow {
  bytes?: number;
  estimateMs?: number;
  waitedMs?: number;
  health?: string;
}

/** Per VM: the resync the reverse needed, its estimate, and how long the replication took to be healthy. */
async function resyncRows(redis: Redis, prefix: string, id: string): Promise<Map<string, ResyncRow>> {
  const events = await readEvents(redis, prefix, id, { after: '0', count: 1_000_000 });
  const rows = new Map<string, ResyncRow>();
  for (const { event } of events) {
    if (event.type !== 'step-finished' || event.output === undefined) continue;
    const [vm, kind] = [
      event.step.slice(0, event.step.lastIndexOf('/')),
      event.step.slice(event.step.lastIndexOf('/') + 1),
    ];
    const row = rows.get(vm) ?? {};
    if (kind === 'reprotect') {
      if (typeof event.output.resyncBytes === 'number') row.bytes = event.output.resyncBytes;
      if (typeof event.output.resyncEstimateMs === 'number') row.estimateMs = event.output.resyncEstimateMs;
    }
    if (kind === 'resync') {
      if (typeof event.output.waitedMs === 'number') row.waitedMs = event.output.waitedMs;
      if (typeof event.output.health === 'string') row.health = event.output.health;
    }
    rows.set(vm, row);
  }
  return rows;
}

function resyncLines(rows: Map<string, ResyncRow>): string[] {
  const total = [...rows.values()].reduce((sum, r) => sum + (r.bytes ?? 0), 0);
  const longest = [...rows.values()].reduce((max, r) => Math.max(max, r.estimateMs ?? 0), 0);
  const healthy = [...rows.values()].filter((r) => r.health === 'Normal').length;
  const lines = [
    `  resync: ${(total / 1024 / 1024).toFixed(1)} MiB in total, longest estimate ${formatElapsed(longest)} simulated; replication health Normal for ${healthy}/${rows.size} VMs`,
  ];
  if (rows.size <= 60) {
    for (const [vm, r] of rows) {
      lines.push(
        `    ${vm.padEnd(20)} resync ${((r.bytes ?? 0) / 1024 / 1024).toFixed(1).padStart(8)} MiB  estimate ${formatElapsed(r.estimateMs ?? 0).padStart(6)} simulated  healthy after ${r.waitedMs === undefined ? '-' : `${formatElapsed(r.waitedMs)} wall`}  ${r.health ?? ''}`,
      );
    }
  }
  return lines;
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
    .option('--sim <url>', SIM_OPTION_HELP)
    .option(...PREFIX_OPTION)
    .option('--json', 'machine-readable output');
}

export function registerLifecycleCommands(program: Command): void {
  withDryRun(lifecycleOptions(program.command('commit <execution>')))
    .description(
      'Complete a failover (Complete-VMFailover on every failed-over VM; other recovery points are discarded: the point of no return)',
    )
    .option('--partial', 'commit the VMs that failed over when some did not (they are recorded)')
    .action((failover: string, flags: LifecycleFlags) =>
      withRedis(flags, 'commit', (redis, client, hosts) =>
        submitAndFollow(redis, client, flags, hosts, () =>
          submitCommit(redis, flags.prefix, failover, {
            by: whoAmI(),
            reason: flags.reason ?? 'commit from the CLI',
            hosts,
            ...(flags.dryRun ? { dryRun: true } : {}),
            ...(flags.partial ? { partial: true } : {}),
          }),
        ),
      ),
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
    .action((failover: string, flags: LifecycleFlags) =>
      withRedis(flags, 'change of recovery point', (redis, client, hosts) => {
        const recoveryPoint = flags.recoveryPoint;
        if (recoveryPoint === undefined) throw new InputError('NO_POINT', 'give --recovery-point');
        return submitAndFollow(redis, client, flags, hosts, () =>
          submitChangePoint(redis, flags.prefix, failover, {
            by: whoAmI(),
            reason: flags.reason ?? `change of recovery point to ${describePoint(recoveryPoint)}`,
            recoveryPoint,
            hosts,
            ...(flags.dryRun ? { dryRun: true } : {}),
          }),
        );
      }),
    );

  withDryRun(lifecycleOptions(program.command('cancel <execution>')))
    .description(
      'Roll a failover back before its point of no return (a running one stops dispatching first); undo actions run',
    )
    .action((failover: string, flags: LifecycleFlags) =>
      withRedis(flags, 'cancel', (redis, client, hosts) =>
        submitAndFollow(redis, client, flags, hosts, () =>
          submitCancel(redis, flags.prefix, failover, {
            by: whoAmI(),
            reason: flags.reason ?? 'cancel from the CLI',
            hosts,
            ...(flags.dryRun ? { dryRun: true } : {}),
          }),
        ),
      ),
    );

  withDryRun(lifecycleOptions(program.command('reprotect <plan>')))
    .description(
      "Reverse replication of the plan's failed-over VMs (Set-VMReplication -Reverse) and follow it until healthy",
    )
    .option(
      '--discard-diverged <vms>',
      'VMs (comma-separated, or all) whose old primaries ran in two sites: let the reverse overwrite what they wrote meanwhile (needs --reason; recorded)',
    )
    .action((file: string, flags: LifecycleFlags & { discardDiverged?: string }) =>
      withRedis(flags, 'reprotect', async (redis, client, hosts) => {
        const discard = discardOf(flags);
        const { plan, text } = await loadPlanOrExit(file);
        const failover = await latestFailoverOf(redis, flags.prefix, plan.metadata.name);
        if (failover === undefined) {
          throw new InputError(
            'NO_FAILOVER',
            `${file}: plan ${plan.metadata.name} has no failover to reprotect (\`drctl status\`)`,
          );
        }
        // With the sites at hand, an old primary running again now is a divergence too (recorded).
        if (!flags.dryRun) await recordRunningOldPrimaries(hosts, redis, flags.prefix, failover.id);
        await submitAndFollow(
          redis,
          client,
          flags,
          hosts,
          async () => {
            const submitted = await submitReprotect(redis, flags.prefix, failover.id, {
              by: whoAmI(),
              reason: flags.reason ?? `reprotect ${plan.metadata.name} after ${failover.id}`,
              hosts,
              ...(discard ? { discardDiverged: discard } : {}),
              ...(flags.dryRun ? { dryRun: true } : {}),
            });
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
    .action((file: string, flags: LifecycleFlags & { approveManual?: boolean }) => failback(file, flags));
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

async function failback(file: string, flags: LifecycleFlags & { approveManual?: boolean }): Promise<void> {
  const { plan, hash } = await loadPlanOrExit(file);
  const hosts = connectHostDriver(simUrlOf(flags, 'failback'));
  const url = await redisUrlFromEnv();
  const redis = createQueueConnection(url, { name: 'drctl-lifecycle' });
  const client = await openClient(flags, url, hosts);
  try {
    const last = await latestFailoverOf(redis, flags.prefix, plan.metadata.name);
    if (last === undefined || last.direction !== 'forward' || last.status !== 'reprotected') {
      throw new InputError(
        'NOT_REPROTECTED',
        last === undefined
          ? `${file}: plan ${plan.metadata.name} has not failed over; there is nothing to fail back`
          : last.direction === 'failback'
            ? `${file}: plan ${plan.metadata.name} already failed back (${last.id}, ${last.status})`
            : `${file}: the failover ${last.id} of ${plan.metadata.name} is ${last.status}; a failback needs the replication reversed first: \`drctl reprotect ${file}\``,
      );
    }
    let submitted: Awaited<ReturnType<ExecutionClient['submit']>>;
    try {
      submitted = await client.submit({
        type: 'planned',
        direction: 'failback',
        plan,
        hash,
        reason: flags.reason ?? `failback of ${plan.metadata.name} after ${last.id}`,
        // The engine reverses replication once every VM is home: this process may die meanwhile.
        thenReprotect: true,
        ...(flags.approveManual ? { approveManual: true } : {}),
      });
    } catch (error) {
      if (error instanceof PreflightBlockedError) {
        process.exitCode = 1;
        if (flags.json) printJson({ ok: false, code: error.code, message: error.message });
        else process.stdout.write(`${error.message}\n`);
        return;
      }
      throw error;
    }
    const out = flags.json ? process.stderr : process.stdout;
    if (flags.detach) {
      printDetached(submitted.id, flags, {
        execution: submitted.id,
        epoch: submitted.epoch,
        steps: submitted.stepsTotal,
        thenReprotect: true,
      });
      return;
    }
    out.write(
      `failback ${submitted.id} (planned, ${plan.target} → ${plan.source}), then reprotect (${plan.source} → ${plan.target}); both phases run in the engine\n`,
    );
    const view = await watchExecution(client, submitted.id, {
      until: FAILBACK_PHASE_1_ENDED,
      explainInterrupt: { prefix: flags.prefix },
      ...(flags.json ? { timeline: false, out: process.stderr } : {}),
    });
    if (!flags.json) for (const line of summaryLines(view)) process.stdout.write(`${line}\n`);
    const reprotectId =
      view.phase?.reprotect ?? (await readLifecycle(redis, flags.prefix, submitted.id)).current;
    const reprotecting = ['reprotecting', 'reprotected', 'reprotect-failed'].includes(view.status);
    if (!reprotecting || reprotectId === undefined) {
      // The failover back did not complete: no reprotect was started.
      const final = await client.get(submitted.id);
      if (flags.json) printJson(final);
      else if (final.phase) out.write(`${failbackPhaseLine(final.phase)}\n`);
      if (final.status !== 'reprotected') process.exitCode = 1;
      return;
    }
    if (!flags.json && view.phase) out.write(`${failbackPhaseLine(view.phase)}\n`);
    await waitForExecution(redis, flags.prefix, reprotectId);
    await follow(
      redis,
      client,
      { id: reprotectId, created: true },
      { ...flags, detach: false },
      flags.prefix,
    );
    const final = await client.get(submitted.id);
    if (!flags.json && final.phase)
      process.stdout.write(`failback ${final.id}: ${failbackPhaseLine(final.phase)}\n`);
    if (final.status !== 'reprotected') process.exitCode = 1;
  } finally {
    await client.close();
    await redis.quit().catch(() => redis.disconnect());
  }
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
