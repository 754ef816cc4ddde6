/**
 * The closing lines of a run: outcome, achieved RTO (a recovery) or duration (cleanup, lifecycle),
 * data loss per VM, the recovery-point gap. Every duration says its clock: the engine's are wall
 * time, the sites' (recovery points, data-loss windows) simulated time on the simulator.
 */
import type { ExecutionView } from '../../client/index.ts';
import { formatElapsed } from '../../common/index.ts';
import { describeClaimSize } from '../../contract/index.ts';

export function gapLines(gap: NonNullable<ExecutionView['recoveryPointGap']>): string[] {
  const lines = [
    `recovery points before failover: oldest ${gap.oldest ?? '-'}, newest ${gap.newest ?? '-'}, spread ${formatElapsed(gap.spreadMs)} simulated`,
  ];
  for (const vm of gap.vms) lines.push(`  ${vm.vm.padEnd(20)} ${vm.time ?? 'no recovery point'}`);
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
  if (view.dataLoss && view.dataLoss.length > 0) lines.push(...dataLossLines(view.dataLoss));
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
    `  data loss (the engine's claim, host time): widest window ${formatElapsed(widest)}${atLeast > 0 ? `; ${atLeast} VM(s) at least that (the old primary may have written on)` : ''}`,
  ];
  const none = claims.filter((c) => c.bound === 'exact' && c.windowMs === 0);
  const some = claims
    .filter((c) => !(c.bound === 'exact' && c.windowMs === 0))
    .sort((a, b) => b.windowMs - a.windowMs);
  for (const claim of some.slice(0, MAX_LOSS_ROWS)) {
    lines.push(
      `    ${claim.vm.padEnd(20)} ${describeClaimSize(claim, formatElapsed).padEnd(16)} ${claim.windowStart} → ${claim.windowEnd}`,
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
