/** The closing lines of a run: outcome, achieved RTO, data loss per VM, the recovery-point gap. */
import type { ExecutionView } from '../../client/index.ts';
import { formatElapsed } from '../../common/index.ts';

export function gapLines(gap: NonNullable<ExecutionView['recoveryPointGap']>): string[] {
  const lines = [
    `recovery points before failover: oldest ${gap.oldest ?? '-'}, newest ${gap.newest ?? '-'}, spread ${formatElapsed(gap.spreadMs)}`,
  ];
  for (const vm of gap.vms)
    lines.push(
      `  ${vm.vm.padEnd(20)} ${vm.time ?? 'no recovery point'}${vm.seq !== undefined ? `  (seq ${vm.seq})` : ''}`,
    );
  return lines;
}

export function summaryLines(view: ExecutionView, options: { speed?: number } = {}): string[] {
  const lines: string[] = [];
  const rto = view.rtoMs !== undefined ? formatElapsed(view.rtoMs) : '-';
  const simulated =
    options.speed && view.rtoMs !== undefined
      ? ` (≈ ${formatElapsed(view.rtoMs * options.speed)} of simulated time at ${options.speed}×)`
      : '';
  lines.push(
    `${view.type} ${view.id}: ${view.status}; achieved RTO ${rto}${simulated}; ${view.stepsDone}/${view.stepsTotal} steps`,
  );
  if (view.error) lines.push(`  error: ${view.error}`);
  if (view.dataLoss) {
    const total = view.dataLoss.reduce((sum, d) => sum + d.lostWrites, 0);
    lines.push(`  data loss: ${total} acknowledged writes lost in total (simulator's ledger)`);
    for (const entry of view.dataLoss) {
      // The window matters where writes were lost (unplanned); a planned failover's VMs were off.
      const window =
        view.type === 'unplanned' && entry.windowMs !== undefined
          ? `, window ${formatElapsed(entry.windowMs)}`
          : '';
      lines.push(
        `    ${entry.vm.padEnd(20)} ${String(entry.lostWrites).padStart(6)} writes  from point ${entry.recoveryPoint ?? '-'}${window}`,
      );
    }
  }
  if (view.status === 'awaiting-cleanup')
    lines.push(
      `  test VMs are running; remove them with: drctl cleanup ${view.id} (automatic at ${view.deadline ?? '-'})`,
    );
  return lines;
}
