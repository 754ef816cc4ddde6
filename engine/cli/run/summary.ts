/**
 * The closing lines of a run: outcome, achieved RTO (a recovery) or duration (cleanup, lifecycle),
 * data loss per VM, the recovery-point gap. Every duration says its clock: the engine's are wall
 * time, the sites' (recovery points, data-loss windows) simulated time on the simulator.
 */
import type { ExecutionView } from '../../client/index.ts';
import { formatElapsed } from '../../common/index.ts';

export function gapLines(gap: NonNullable<ExecutionView['recoveryPointGap']>): string[] {
  const lines = [
    `recovery points before failover: oldest ${gap.oldest ?? '-'}, newest ${gap.newest ?? '-'}, spread ${formatElapsed(gap.spreadMs)} simulated`,
  ];
  for (const vm of gap.vms)
    lines.push(
      `  ${vm.vm.padEnd(20)} ${vm.time ?? 'no recovery point'}${vm.seq !== undefined ? `  (seq ${vm.seq})` : ''}`,
    );
  return lines;
}

/**
 * `speed`: simulated ms per wall ms of the sites' clock, when it is known (the demo's own world);
 * only then is a wall duration also given in simulated time.
 */
export function summaryLines(view: ExecutionView, options: { speed?: number } = {}): string[] {
  const lines: string[] = [];
  lines.push(
    `${view.type} ${view.id}: ${view.status}; ${timeTaken(view, options.speed)}; ${view.stepsDone}/${view.stepsTotal} steps`,
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

/**
 * A recovery's achieved RTO (submit → last VM ready), or how long the execution took: a cleanup or
 * lifecycle execution recovers nothing, and a failed or cancelled recovery achieved none. Wall
 * time, converted to simulated time only at a known speed.
 */
function timeTaken(view: ExecutionView, speed: number | undefined): string {
  const simulated = (ms: number) => (speed ? ` (≈ ${formatElapsed(ms * speed)} simulated at ${speed}×)` : '');
  if (view.rtoMs !== undefined && isRecovery(view))
    return `achieved RTO ${formatElapsed(view.rtoMs)} wall from submit to the last VM ready${simulated(view.rtoMs)}`;
  const ms = view.durationMs ?? view.rtoMs;
  if (ms === undefined) return view.finishedAt === undefined ? 'running' : 'took -';
  return `took ${formatElapsed(ms)} wall from submit${simulated(ms)}`;
}

function isRecovery(view: ExecutionView): boolean {
  return view.type === 'test' || view.type === 'planned' || view.type === 'unplanned';
}
