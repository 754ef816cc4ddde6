/**
 * Running plans: drill, cleanup, failover, status, events, approve, the orchestrator process and
 * the demo. Every command goes through the ExecutionClient (engine/client).
 */
import type { Command } from 'commander';
import { createSimClient } from '../../simulators/index.ts';
import { measureRecoveryPointGap } from '../client/index.ts';
import { InputError } from '../common/index.ts';
import type { FailoverType } from '../plan/types.ts';
import {
  type CommonFlags,
  loadPlanOrExit,
  openClient,
  PREFIX_OPTION,
  parseRecoveryPoint,
  printJson,
} from './run/common.ts';
import { registerDemoCommand } from './run/demo.ts';
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
}

async function runPlan(file: string, type: FailoverType, flags: RunFlags): Promise<void> {
  const { plan, hash } = await loadPlanOrExit(file);
  const client = await openClient(flags);
  try {
    let gap: Awaited<ReturnType<typeof measureRecoveryPointGap>> | undefined;
    const simUrl = flags.sim ?? process.env.DR_SIM_URL;
    if (type === 'unplanned' && simUrl) {
      gap = await measureRecoveryPointGap(createSimClient(simUrl), plan, 'forward', flags.recoveryPoint);
      if (!flags.json) for (const line of gapLines(gap)) process.stdout.write(`${line}\n`);
    }
    const submitted = await client.submit({
      type,
      plan,
      hash,
      reason: flags.reason ?? `${type === 'test' ? 'drill' : `${type} failover`} from the CLI`,
      ...(flags.recoveryPoint ? { recoveryPoint: flags.recoveryPoint } : {}),
      ...(gap ? { recoveryPointGap: gap } : {}),
      ...(flags.approveManual ? { approveManual: true } : {}),
    });
    if (flags.detach) {
      if (flags.json)
        printJson({ execution: submitted.id, epoch: submitted.epoch, steps: submitted.stepsTotal });
      else process.stdout.write(`${submitted.id}\n`);
      return;
    }
    const view = await watchExecution(
      client,
      submitted.id,
      flags.json ? { timeline: false, out: process.stderr } : {},
    );
    if (flags.json) printJson(view);
    else for (const line of summaryLines(view)) process.stdout.write(`${line}\n`);
    if (view.status === 'failed' || view.status === 'cancelled') process.exitCode = 1;
  } finally {
    await client.close();
  }
}

function runOptions(command: Command): Command {
  return command
    .option('--reason <text>', 'why it runs (kept with the execution)')
    .option('--detach', 'return at once with the execution id')
    .option('--approve-manual', "count the plan's manual actions as approved (unattended runs)")
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
    .option('--planned', 'planned failover: shut down, final replication, failover, boot')
    .option('--unplanned', 'unplanned failover from the recovery point chosen now')
    .option(
      '--recovery-point <point>',
      'latest | latestProcessed | latestAppConsistent | <ISO time>',
      parseRecoveryPoint,
    )
    .option(
      '--sim <url>',
      'simulated Hyper-V API, to show the recovery-point gap first (default: DR_SIM_URL)',
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
    .option(...PREFIX_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (drill: string, flags: RunFlags) => {
      const client = await openClient(flags);
      try {
        const { id } = await client.cleanup(drill, { reason: flags.reason ?? 'drill finished' });
        if (flags.detach) {
          if (flags.json) printJson({ execution: id });
          else process.stdout.write(`${id}\n`);
          return;
        }
        const view = await watchExecution(
          client,
          id,
          flags.json ? { timeline: false, out: process.stderr } : {},
        );
        if (flags.json) printJson(view);
        else for (const line of summaryLines(view)) process.stdout.write(`${line}\n`);
        if (view.status !== 'completed') process.exitCode = 1;
      } finally {
        await client.close();
      }
    });

  registerStatusCommands(program);
  registerOrchestratorCommand(program);
  registerDemoCommand(program);
}
