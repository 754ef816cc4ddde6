/**
 * Running plans: drill, cleanup, failover, status, events, approve, the orchestrator process and
 * the demo. Every command goes through the ExecutionClient (engine/client), on the control plane
 * (`--server` / DR_SERVER) or on Redis directly (run/connect.ts decides).
 */

import { type Command, InvalidArgumentError } from 'commander';
import { measureRecoveryPointGap } from '../client/index.ts';
import { InputError } from '../common/index.ts';
import { createPathLocator } from '../plan/index.ts';
import type { FailoverType } from '../plan/types.ts';
import {
  formatFinding,
  formatPreflightReport,
  locateReport,
  PreflightBlockedError,
  type PreflightReport,
  preflightSummaryLine,
  selectionFromFlags,
  selectSubset,
  subPlan,
} from '../preflight/index.ts';
import { SIM_OPTION_HELP } from './host-driver.ts';
import {
  type CommonFlags,
  loadPlanOrExit,
  PREFIX_OPTION,
  parseRecoveryPoint,
  printDetached,
  printJson,
} from './run/common.ts';
import { connectClient, SERVER_OPTION } from './run/connect.ts';
import { registerDemoCommand } from './run/demo.ts';
import { fencingOf } from './run/fencing.ts';
import { registerOrchestratorCommand } from './run/orchestrator-command.ts';
import { registerStatusCommands } from './run/status-commands.ts';
import { gapLines, summaryLines } from './run/summary.ts';
import { watchExecution } from './run/watch.ts';

interface RunFlags extends CommonFlags {
  reason?: string;
  detach?: boolean;
  approveManual?: boolean;
  planned?: boolean;
  unplanned?: boolean;
  recoveryPoint?: ReturnType<typeof parseRecoveryPoint>;
  sim?: string;
  server?: string;
  vms?: string;
  group?: string;
  dryRun?: boolean;
  accept?: string;
  maxUtilization?: number;
}

/**
 * A drill or failover: pre-flight first (through the client's submit, so every client gets the
 * same gate), then the execution. Exit codes: 2 bad input (plan, flags, unknown VM or group in the
 * selection), 1 pre-flight blocked (the sites, locks or failed-over records: nothing started) or the
 * run failed, 0 ok. `--dry-run` runs pre-flight alone: 0 when nothing blocks, 1 when something does.
 */
async function runPlan(file: string, type: FailoverType, flags: RunFlags): Promise<void> {
  const { plan, hash, text } = await loadPlanOrExit(file);
  const selection = selectionFromFlags(flags);
  const subset = selectSubset(plan, selection); // unknown names: exit 2 before anything is read
  const accept = flags.accept
    ?.split(',')
    .map((code) => code.trim())
    .filter((code) => code !== '');
  const connection = await connectClient(flags, {
    sites: 'pre-flight reads the sites before anything starts',
  });
  const { client, sites } = connection;
  const locate = createPathLocator(text);
  const checks = {
    type,
    plan,
    source: { file, text },
    ...(subset.all ? {} : { selection }),
    ...(flags.recoveryPoint ? { recoveryPoint: flags.recoveryPoint } : {}),
    ...(accept === undefined ? {} : { accept }),
    ...(flags.maxUtilization === undefined ? {} : { maxUtilization: flags.maxUtilization }),
  };
  try {
    if (flags.dryRun) {
      const report = locateReport(await client.preflight({ ...checks, exactPoints: true }), locate);
      if (flags.json) printJson({ dryRun: true, ...report });
      else process.stdout.write(`${formatPreflightReport(report, { file, placements: true })}\n`);
      process.exitCode = report.ok ? 0 : 1;
      return;
    }
    // Measured here on the direct path; the control plane measures it itself (and says so).
    let gap: Awaited<ReturnType<typeof measureRecoveryPointGap>> | undefined;
    if (type === 'unplanned' && sites !== undefined) {
      gap = await measureRecoveryPointGap(sites, subPlan(plan, subset.vms), 'forward', flags.recoveryPoint);
    }
    let submitted: Awaited<ReturnType<typeof client.submit>>;
    try {
      submitted = await client.submit({
        ...checks,
        hash,
        reason: flags.reason ?? `${type === 'test' ? 'drill' : `${type} failover`} from the CLI`,
        ...(gap ? { recoveryPointGap: gap } : {}),
        ...(flags.approveManual ? { approveManual: true } : {}),
      });
    } catch (error) {
      if (!(error instanceof PreflightBlockedError)) throw error;
      printBlocked(locateReport(error.report, locate), file, flags);
      process.exitCode = 1;
      return;
    }
    const preflight = locateReport(submitted.preflight, locate);
    gap ??= submitted.recoveryPointGap;
    if (!flags.json) {
      // Shown once the run is accepted (a refused run shows its blockers only).
      if (gap) for (const line of gapLines(gap)) process.stdout.write(`${line}\n`);
      process.stdout.write(`${preflightSummaryLine(preflight)}\n`);
      for (const warning of preflight.warnings) process.stdout.write(`  ${formatFinding(warning, file)}\n`);
    }
    if (flags.detach) {
      printDetached(submitted.id, flags, {
        execution: submitted.id,
        epoch: submitted.epoch,
        steps: submitted.stepsTotal,
        vms: preflight.selected,
        preflight,
      });
      return;
    }
    const view = await watchExecution(client, submitted.id, {
      explainInterrupt: { prefix: flags.prefix },
      ...(flags.json ? { timeline: false, out: process.stderr } : {}),
    });
    // A VM that ran in two sites while the failover ran (its source returned first): loud, and exit 1.
    const fences = await fencingOf(client, view);
    if (flags.json)
      printJson({ ...view, preflight, ...(fences.divergence ? { divergence: fences.divergence } : {}) });
    else {
      for (const line of summaryLines(view)) process.stdout.write(`${line}\n`);
      for (const line of fences.divergenceLines) process.stdout.write(`${line}\n`);
    }
    if (view.status === 'failed' || view.status === 'cancelled' || fences.standing > 0) process.exitCode = 1;
  } finally {
    await connection.close();
  }
}

/** Every blocker, located in the plan; stdout with --json (the report), else the readable report. */
function printBlocked(report: PreflightReport, file: string, flags: RunFlags): void {
  if (flags.json) printJson({ ok: false, code: 'PREFLIGHT_BLOCKED', preflight: report });
  else process.stdout.write(`${formatPreflightReport(report, { file })}\n`);
}

function parseRatio(value: string): number {
  const ratio = Number(value);
  if (!(ratio > 0 && ratio <= 1)) throw new InvalidArgumentError('a ratio in (0, 1], e.g. 0.8');
  return ratio;
}

function runOptions(command: Command): Command {
  return command
    .option('--reason <text>', 'why it runs (kept with the execution)')
    .option('--detach', 'return at once with the execution id')
    .option('--approve-manual', "count the plan's manual actions as approved (unattended runs)")
    .option(
      '--vms <names>',
      'only these VMs of the plan, comma-separated (their dependencies must run at the target)',
    )
    .option('--group <n|name>', 'only this ordered group (numbered from 1, or its name)')
    .option(
      '--dry-run',
      'pre-flight only: blockers, host and recovery point per VM, estimated RTO; starts nothing',
    )
    .option(
      '--accept <codes>',
      'accept these pre-flight blockers for this run, comma-separated (e.g. RPO_NOT_MET)',
    )
    .option(
      '--max-utilization <ratio>',
      'refuse when the target site would be fuller than this (0.8 keeps 20 % headroom); default 1',
      parseRatio,
    )
    .option(
      '--recovery-point <point>',
      "latest | latestProcessed | latestAppConsistent | <ISO time>, instead of the plan's (drill and --unplanned; refused with --planned, which takes the latest)",
      parseRecoveryPoint,
    )
    .option('--sim <url>', SIM_OPTION_HELP)
    .option(...SERVER_OPTION)
    .option(...PREFIX_OPTION)
    .option('--json', 'machine-readable output');
}

export function registerRunCommands(program: Command): void {
  runOptions(program.command('drill <plan>'))
    .description(
      'Test failover: every VM comes up as a test VM on its test network; production is never touched',
    )
    .action((file: string, flags: RunFlags) => runPlan(file, 'test', flags));

  runOptions(program.command('failover <plan>'))
    .description('Planned (no data loss) or unplanned (source may be gone) failover of a plan')
    .option(
      '--planned',
      'planned failover: shut down, final replication, failover, boot (this or --unplanned is required)',
    )
    .option(
      '--unplanned',
      'unplanned failover from the recovery point chosen now (this or --planned is required)',
    )
    .action((file: string, flags: RunFlags) => {
      if (flags.planned === flags.unplanned) {
        throw new InputError('FAILOVER_KIND', 'say which failover: --planned or --unplanned (exactly one)');
      }
      if (flags.planned && flags.recoveryPoint) {
        throw new InputError(
          'FAILOVER_POINT',
          '--recovery-point applies to --unplanned only: a planned failover loses no data',
        );
      }
      return runPlan(file, flags.planned ? 'planned' : 'unplanned', flags);
    });

  program
    .command('cleanup <execution>')
    .description('Remove every test VM of a drill (its cleanup runs as an execution of its own)')
    .option('--reason <text>', 'why', 'drill finished')
    .option('--detach', 'return at once with the cleanup execution id')
    .option(...SERVER_OPTION)
    .option(...PREFIX_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (drill: string, flags: RunFlags) => {
      const connection = await connectClient(flags);
      const { client } = connection;
      try {
        const { id } = await client.cleanup(drill, { reason: flags.reason ?? 'drill finished' });
        if (flags.detach) {
          printDetached(id, flags, { execution: id });
          return;
        }
        const view = await watchExecution(client, id, {
          explainInterrupt: { prefix: flags.prefix },
          ...(flags.json ? { timeline: false, out: process.stderr } : {}),
        });
        if (flags.json) printJson(view);
        else for (const line of summaryLines(view)) process.stdout.write(`${line}\n`);
        if (view.status !== 'completed') process.exitCode = 1;
      } finally {
        await connection.close();
      }
    });

  registerStatusCommands(program);
  registerOrchestratorCommand(program);
  registerDemoCommand(program);
}
