/** The closing lines of a run: outcome, achieved RTO, data loss per VM, the recovery-point gap. */
import type { ExecutionView } from '../../client/index.ts';
import { describeClaimSize } from '../../contract/index.ts';
import { seconds } from './common.ts';

export function gapLines(gap: NonNullable<ExecutionView['recoveryPointGap']>): string[] {
  const lines = [
    `recovery points before failover: oldest ${gap.oldest ?? '-'}, newest ${gap.newest ?? '-'}, spread ${seconds(gap.spreadMs)}`,
  ];
  for (const vm of gap.vms) lines.push(`  ${vm.vm.padEnd(20)} ${vm.time ?? 'no recovery point'}`);
  return lines;
}

export function summaryLines(view: ExecutionView, options: { speed?: number } = {}): string[] {
  const lines: string[] = [];
  const rto = view.rtoMs !== undefined ? seconds(view.rtoMs) : '-';
  const simulated =
    options.speed && view.rtoMs !== undefined
      ? ` (≈ ${seconds(view.rtoMs * options.speed)} of simulated time at ${options.speed}×)`
      : '';
  lines.push(
    `${view.type} ${view.id}: ${view.status}; achieved RTO ${rto}${simulated}; ${view.stepsDone}/${view.stepsTotal} steps`,
  );
  if (view.error) lines.push(`  error: ${view.error}`);
  if (view.dataLoss && view.dataLoss.length > 0) lines.push(...dataLossLines(view.dataLoss));
  if (view.status === 'awaiting-cleanup')
    lines.push(
      `  test VMs are running; remove them with: drctl cleanup ${view.id} (automatic at ${view.deadline ?? '-'})`,
    );
  return lines;
}

/** Rows of the data-loss table before "... N more" (the record has them all: `--json`). */
const MAX_LOSS_ROWS = 20;

/**
 * The engine's data-loss claims: per VM the window of writes lost (from the recovery point's time
 * to until the old primary could write, host time), how far its end is known, and why. The widest
 * windows first; VMs proven lossless are summed up in one line.
 */
export function dataLossLines(claims: NonNullable<ExecutionView['dataLoss']>): string[] {
  const widest = claims.reduce((max, c) => Math.max(max, c.windowMs), 0);
  const atLeast = claims.filter((c) => c.bound === 'atLeast').length;
  const lines = [
    `  data loss (the engine's claim, host time): widest window ${seconds(widest)}${atLeast > 0 ? `; ${atLeast} VM(s) at least that (the old primary may have written on)` : ''}`,
  ];
  const none = claims.filter((c) => c.bound === 'exact' && c.windowMs === 0);
  const some = claims
    .filter((c) => !(c.bound === 'exact' && c.windowMs === 0))
    .sort((a, b) => b.windowMs - a.windowMs);
  for (const claim of some.slice(0, MAX_LOSS_ROWS)) {
    lines.push(
      `    ${claim.vm.padEnd(20)} ${describeClaimSize(claim, seconds).padEnd(16)} ${claim.windowStart} → ${claim.windowEnd}`,
      `      ${claim.basis}`,
    );
  }
  if (some.length > MAX_LOSS_ROWS) lines.push(`    ... ${some.length - MAX_LOSS_ROWS} more (--json for all)`);
  if (none.length > 0) {
    const example = none[0]?.basis ?? '';
    lines.push(
      none.length === 1
        ? `    ${none[0]?.vm ?? ''}: nothing lost (${example})`
        : `    ${none.length} VM(s) lost nothing, e.g. ${example}`,
    );
  }
  return lines;
}
