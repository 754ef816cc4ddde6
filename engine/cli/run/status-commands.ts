/** `drctl status [<execution>]`, `drctl events <execution> [--follow]` (approve: operator-commands.ts). */
import type { Command } from 'commander';
import type { ExecutionView } from '../../client/index.ts';
import { failbackPhaseLine } from '../../executor/index.ts';
import { TIMELINE_CLOCKS, timelineLine } from '../../report/index.ts';
import { lifecycleStatus } from '../lifecycle-commands.ts';
import { operatorLines } from '../operator-commands.ts';
import { type CommonFlags, PREFIX_OPTION, printJson } from './common.ts';
import { connectClient, SERVER_OPTION } from './connect.ts';
import { fencingOf } from './fencing.ts';
import { gapLines, summaryLines } from './summary.ts';
import { progressLine } from './watch.ts';

interface StatusFlags extends CommonFlags {
  limit: number;
  follow?: boolean;
  server?: string;
}

export function registerStatusCommands(program: Command): void {
  program
    .command('status [execution]')
    .description("One execution with each VM's phase, or the latest executions")
    .option('--limit <n>', 'how many executions to list', (v) => Number.parseInt(v, 10), 20)
    .option(...SERVER_OPTION)
    .option(...PREFIX_OPTION)
    .option('--json', 'machine-readable output')
    .action(async (id: string | undefined, flags: StatusFlags) => {
      const connection = await connectClient(flags);
      const { client } = connection;
      try {
        if (id === undefined) {
          const list = await client.list({ limit: flags.limit });
          if (flags.json) return printJson(list);
          if (list.length === 0) process.stdout.write('no executions\n');
          else
            process.stdout.write(
              `${'EXECUTION'.padEnd(36)} ${'TYPE'.padEnd(12)} ${'STATUS'.padEnd(16)} ${'PLAN'.padEnd(16)} ${'STEPS'.padEnd(9)} ${'CREATED'.padEnd(24)} BY: REASON\n`,
            );
          for (const record of list) {
            process.stdout.write(
              `${record.id.padEnd(36)} ${record.type.padEnd(12)} ${record.status.padEnd(16)} ${record.planName.padEnd(16)} ${`${record.stepsDone}/${record.stepsTotal}`.padEnd(9)} ${record.createdAt.padEnd(24)} ${record.by}: ${record.reason}\n`,
            );
          }
          return;
        }
        const view = await client.get(id, { vms: true });
        const waits =
          view.status === 'paused' || view.status === 'running'
            ? await connection.operatorWaits(id)
            : { paused: [], approvals: [] };
        const lifecycle = await lifecycleStatus(flags.prefix, view, connection.lifecycle);
        const fences = await fencingOf(client, view);
        // A VM that ran in two sites, not yet acknowledged by a reprotect: the command fails (1).
        if (fences.standing > 0) process.exitCode = 1;
        if (flags.json)
          return printJson({
            ...view,
            ...(waits.paused.length > 0 ? { paused: waits.paused } : {}),
            ...(waits.approvals.length > 0 ? { approvals: waits.approvals } : {}),
            ...(lifecycle.lifecycle ? { lifecycle: lifecycle.lifecycle } : {}),
            ...(fences.fencing ? { fencing: fences.fencing } : {}),
            ...(fences.divergence ? { divergence: fences.divergence } : {}),
          });
        process.stdout.write(`${progressLine(view, Date.now())}\n`);
        process.stdout.write(
          `plan ${view.planName} (${view.hash.slice(0, 12)}), ${view.direction}, epoch ${view.epoch}, by ${view.by}: ${view.reason}\n`,
        );
        if (view.parent)
          process.stdout.write(`${view.type === 'cleanup' ? 'cleans up' : 'acts on'} ${view.parent}\n`);
        // Split-brain first, before anything else an operator reads.
        for (const line of fences.divergenceLines) process.stdout.write(`${line}\n`);
        if (view.phase) process.stdout.write(`failback ${failbackPhaseLine(view.phase)}\n`);
        for (const line of lifecycle.lines) process.stdout.write(`${line}\n`);
        if (view.cleanup) process.stdout.write(`cleanup: ${view.cleanup}\n`);
        if (view.protect)
          process.stdout.write(
            `sets automatic start action ${view.protect.action} on ${Object.keys(view.protect.sites).length} primaries; each VM's before and after: drctl events ${view.id}\n`,
          );
        for (const line of operatorLines(waits)) process.stdout.write(`${line}\n`);
        if (view.recoveryPointGap)
          for (const line of gapLines(view.recoveryPointGap)) process.stdout.write(`${line}\n`);
        for (const line of whereLines(view)) process.stdout.write(`${line}\n`);
        for (const line of fences.lines) process.stdout.write(`${line}\n`);
        if (view.finishedAt) for (const line of summaryLines(view)) process.stdout.write(`${line}\n`);
      } finally {
        await connection.close();
      }
    });

  program
    .command('events <execution>')
    .description("The execution's event log (the timeline of record)")
    .option('--follow', 'keep printing new events until the execution finishes')
    .option(...SERVER_OPTION)
    .option(...PREFIX_OPTION)
    .option('--json', 'one JSON event per line')
    .action(async (id: string, flags: StatusFlags) => {
      // `drctl events ... | head` closes the pipe early: main.ts ends quietly on EPIPE.
      const connection = await connectClient(flags);
      const { client } = connection;
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      process.once('SIGINT', stop);
      try {
        const view = await client.get(id);
        const start = Date.parse(view.createdAt);
        if (!flags.json) process.stdout.write(`(${TIMELINE_CLOCKS})\n`);
        for await (const stored of client.events(id, {
          follow: flags.follow === true,
          signal: controller.signal,
        })) {
          process.stdout.write(
            flags.json
              ? `${JSON.stringify({ id: stored.id, ...stored.event })}\n`
              : `${timelineLine(stored, start)}\n`,
          );
        }
      } finally {
        process.off('SIGINT', stop);
        await connection.close();
      }
    });
}

/**
 * Each VM's phase and where it runs; first, loudly, the VMs that run nowhere (off at the source,
 * not yet started at the target) or whose place the engine cannot tell.
 */
export function whereLines(view: ExecutionView): string[] {
  const lines: string[] = [];
  const where = Object.entries(view.where ?? {});
  const total = Object.keys(view.vms ?? {}).length;
  for (const state of ['nowhere', 'unknown'] as const) {
    const vms = where.filter(([, w]) => w.state === state).map(([vm]) => vm);
    if (vms.length === 0) continue;
    const shown =
      vms.length > 20 ? `${vms.slice(0, 20).join(', ')} … and ${vms.length - 20} more` : vms.join(', ');
    lines.push(
      state === 'nowhere'
        ? `${vms.length} of ${total} VM(s) RUN NOWHERE right now: ${shown}`
        : `${vms.length} of ${total} VM(s) in an UNKNOWN place (check the hosts): ${shown}`,
    );
  }
  for (const [vm, phase] of Object.entries(view.vms ?? {})) {
    const at = view.where?.[vm];
    lines.push(`  ${vm.padEnd(24)} ${phase.padEnd(20)}${at ? ` ${at.text}` : ''}`.trimEnd());
  }
  return lines;
}
