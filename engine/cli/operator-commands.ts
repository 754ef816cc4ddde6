/**
 * Operator control: `drctl approve <execution> <action> --comment`, `drctl step retry|skip|done
 * <execution> <step> --reason`. Each is recorded with who (the API token's owner; on REDIS_URL
 * here, the OS user), when and
 * why in the execution's event log (`operator-action`), applied by the orchestrator that drives
 * the execution; given through the control plane (`--server`, DR_SERVER) or on REDIS_URL here.
 * Refusals (unknown step, step not paused, execution settled) exit 2.
 */
import { type Command, InvalidArgumentError } from 'commander';
import {
  createHttpLifecycleClient,
  createRedisLifecycleClient,
  type LifecycleClient,
  type StepAsk,
  whoAmI,
} from '../client/index.ts';
import type { AwaitedApproval, OperatorReceipt, PausedStep } from '../executor/index.ts';
import { compilePlan } from '../plan/index.ts';
import { type CommonFlags, PREFIX_OPTION, printJson, redisUrlFromEnv } from './run/common.ts';
import { refuseDirectFlags, SERVER_OPTION, serverOf } from './server-option.ts';

interface OperatorFlags extends CommonFlags {
  server?: string;
  reason?: string;
  comment?: string;
  waitMs: number;
}

function parseWait(value: string): number {
  const ms = Number.parseInt(value, 10);
  if (!Number.isInteger(ms) || ms < 0)
    throw new InvalidArgumentError(`"${value}" is not a number of milliseconds`);
  return ms;
}

/** Give the command through the control plane (`--server`, DR_SERVER), else on REDIS_URL here. */
async function give(flags: OperatorFlags, command: Command, ask: StepAsk): Promise<OperatorReceipt> {
  const server = serverOf(flags);
  if (server !== undefined) refuseDirectFlags(command, server);
  const client: LifecycleClient =
    server !== undefined
      ? createHttpLifecycleClient(server)
      : createRedisLifecycleClient({
          redisUrl: await redisUrlFromEnv(),
          prefix: flags.prefix,
          compile: compilePlan,
        });
  try {
    return await client.step(ask);
  } finally {
    await client.close();
  }
}

const VERB: Record<string, string> = {
  approve: 'approved',
  retry: 'retrying',
  skip: 'skipped',
  done: 'marked done',
};

function report(receipt: OperatorReceipt, json: boolean | undefined): void {
  if (receipt.applied && receipt.accepted === false) process.exitCode = 1;
  if (json) {
    printJson(receipt);
    return;
  }
  const what = `${receipt.step} of ${receipt.execution}`;
  if (!receipt.applied) {
    process.stdout.write(
      `recorded: ${receipt.command} ${what} by ${receipt.by}; no orchestrator applied it yet (is one running? it applies when one drives the execution)\n`,
    );
    return;
  }
  if (receipt.accepted === false) {
    process.stderr.write(
      `drctl: the orchestrator refused ${receipt.command} ${what}: ${receipt.detail ?? ''}\n`,
    );
    return;
  }
  const next = receipt.command === 'retry' ? ` (attempt ${receipt.attempt + 1})` : '';
  process.stdout.write(`${VERB[receipt.command]} ${what}${next} by ${receipt.by}\n`);
}

export function registerOperatorCommands(program: Command): void {
  program
    .command('approve <execution> <action>')
    .description('Approve a manual action the execution waits on (recorded with who, when and the comment)')
    .option('--comment <text>', 'what was checked or done (kept in the event log)', '')
    .option('--wait-ms <ms>', 'how long to wait for the orchestrator to apply it', parseWait, 10_000)
    .option(...SERVER_OPTION)
    .option(...PREFIX_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (id: string, action: string, flags: OperatorFlags, command: Command) => {
      const receipt = await give(flags, command, {
        execution: id,
        command: 'approve',
        step: action,
        // Over the API the control plane records the token's owner instead.
        by: whoAmI(),
        reason: flags.comment ?? '',
        waitMs: flags.waitMs,
      });
      report(receipt, flags.json);
    });

  const step = program
    .command('step')
    .description(
      'Decide about a step paused for an operator (its failure policy is `then: pause`), or failed under continue-without-dependents while the run goes on: retry, skip or done',
    );
  const commands = [
    ['retry', 'Run the step again now (a new attempt, job id .a<N>); its dependents wait for it'],
    [
      'skip',
      'Mark the step skipped: its dependents go on as if it had succeeded (use when it is not needed)',
    ],
    ['done', 'Record that the step was done by hand: it counts as done and its dependents go on'],
  ] as const;
  for (const [command, description] of commands) {
    step
      .command(`${command} <execution> <step>`)
      .description(description)
      .requiredOption('--reason <text>', 'why (kept in the event log)')
      .option('--wait-ms <ms>', 'how long to wait for the orchestrator to apply it', parseWait, 10_000)
      .option(...SERVER_OPTION)
      .option(...PREFIX_OPTION)
      .option('--json', 'machine-readable output')
      .action(async (id: string, stepId: string, flags: OperatorFlags, cli: Command) => {
        const receipt = await give(flags, cli, {
          execution: id,
          command,
          step: stepId,
          by: whoAmI(),
          reason: flags.reason ?? '',
          waitMs: flags.waitMs,
        });
        report(receipt, flags.json);
      });
  }
}

/** `drctl status` lines for what waits on an operator: which step, why, and the commands to use. */
export function operatorLines(waits: {
  paused: readonly PausedStep[];
  approvals: readonly AwaitedApproval[];
}): string[] {
  const lines: string[] = [];
  for (const a of waits.approvals) {
    lines.push(`WAITING FOR APPROVAL ${a.step}: ${a.instruction}`);
    lines.push(`    ${a.command}`);
  }
  const paused = waits.paused;
  for (const p of paused) {
    const why = p.error ? `${p.error.code}: ${p.error.message}` : 'failed';
    lines.push(`PAUSED ${p.step} (attempt ${p.attempt}${p.site ? ` @${p.site}` : ''}): ${why}`);
    for (const command of p.commands) lines.push(`    ${command}`);
  }
  return lines;
}
