/**
 * Best-effort steps: steps the execution must not wait for forever. Today the fences of an
 * unplanned failover (`<vm>/fence`, at the source site): a source site that is down has no
 * workers, so its fence jobs never run. Past the plan's fencing deadline (spec.fencing.deadline,
 * counted from the execution's start as stored in its meta, so an orchestrator that takes over
 * after a crash keeps the same deadline) each fence still in flight is recorded `warned` and its
 * VM's failover goes on.
 *
 * The fence job itself stays in the source site's queue: when that site's agent comes back it
 * runs, reads the old primary and fences it under this execution's epoch. Its late result finds
 * the step already final and is ignored (ExecutionProgress.applyResult), its events still land in
 * the execution's log, so the timeline shows when the old primary was finally fenced.
 *
 * An automatic failover (meta `automatic`, engine/control/auto) does not wait: there the expired
 * lease plus the witness is the fence (the lost site's agent fenced itself before its lease ran
 * out, and the monitor waited out the margin), so each fence is recorded `done`, fenced by lease,
 * as soon as it is dispatched. The job still stays queued for the site's return.
 */

import { EVENT_SCHEMA_VERSION, type StepJobResult, stepJobId } from '../../contract/index.ts';
import { DEFAULT_FENCE_DEADLINE_MS, formatDuration } from '../../plan/index.ts';
import type { ExecutionProgress } from './progress.ts';

export class FenceDeadline {
  /** Fence steps that may still need the deadline applied. */
  private pending: string[];

  private constructor(
    private readonly progress: ExecutionProgress,
    readonly deadlineAt: number,
    private readonly deadlineMs: number,
    private readonly byLease: boolean,
  ) {
    this.pending = [];
    for (const [id, step] of progress.graph.steps) if (step.kind === 'fence') this.pending.push(id);
  }

  /**
   * The fence deadline of an execution, or undefined when it has no fences (anything but an
   * unplanned failover). `startedAt`: the execution's start (meta `startedAt`, ms).
   */
  static of(
    progress: ExecutionProgress,
    startedAt: number,
    options: { byLease?: boolean } = {},
  ): FenceDeadline | undefined {
    if (progress.ctx.type !== 'unplanned') return undefined;
    const byLease = options.byLease === true;
    const deadlineMs = byLease ? 0 : (progress.ctx.plan.fencing?.deadlineMs ?? DEFAULT_FENCE_DEADLINE_MS);
    const deadline = new FenceDeadline(progress, startedAt + deadlineMs, deadlineMs, byLease);
    return deadline.pending.length > 0 ? deadline : undefined;
  }

  /**
   * At or after the deadline, record every fence still queued as `warned` (with its step-finished
   * and vm-phase events). Returns how many it recorded; the caller commits the batch. O(1) before
   * the deadline and once every fence was dispatched and the deadline applied.
   */
  expire(now: number): number {
    if (this.pending.length === 0 || now < this.deadlineAt) return 0;
    const progress = this.progress;
    const at = new Date(now).toISOString();
    let expired = 0;
    // A fence not dispatched yet (held back by a failure, paused) is looked at again next time.
    const later: string[] = [];
    for (const id of this.pending) {
      const state = progress.graph.state(id);
      if (state.status === 'pending') later.push(id);
      if (state.status !== 'queued' || state.jobKey === undefined) continue;
      const step = progress.graph.step(id);
      const vm = step.vm ?? id;
      const waited = formatDuration(this.deadlineMs);
      const message = `source site ${step.site} unreachable: ${vm} not fenced within ${waited}; it will be fenced when its agent returns (the fence job stays queued at ${step.site})`;
      const result: StepJobResult = this.byLease
        ? {
            v: 1,
            steps: [
              {
                id,
                outcome: 'done',
                startedAt: at,
                endedAt: at,
                output: { fenced: true, by: 'lease', site: step.site },
              },
            ],
          }
        : {
            v: 1,
            steps: [
              {
                id,
                outcome: 'warned',
                startedAt: at,
                endedAt: at,
                output: { fenced: false, site: step.site, reason: 'deadline', deadlineMs: this.deadlineMs },
                error: { code: 'NOT_FENCED', message, retryable: false },
              },
            ],
          };
      progress.applyResult(stepJobId(progress.ctx.execution, state.jobKey, state.attempt), result);
      const base = {
        v: EVENT_SCHEMA_VERSION,
        at,
        execution: progress.ctx.execution,
        site: step.site,
      } as const;
      if (this.byLease) {
        if (progress.graph.state(id).status !== 'done') continue;
        progress.addEvent({
          ...base,
          type: 'step-finished',
          step: id,
          outcome: 'done',
          attempt: state.attempt,
          output: result.steps[0]?.output ?? {},
        });
        progress.addEvent({
          ...base,
          type: 'vm-phase',
          vm,
          phase: 'waiting',
          detail: `source fenced by lease: ${step.site}'s lease expired and the witness agreed (the fence job stays queued at ${step.site} for its return)`,
        });
        expired += 1;
        continue;
      }
      if (progress.graph.state(id).status !== 'warned') continue;
      progress.addEvent({
        ...base,
        type: 'step-finished',
        step: id,
        outcome: 'warned',
        attempt: state.attempt,
        output: result.steps[0]?.output ?? {},
        error: { code: 'NOT_FENCED', message, retryable: false },
      });
      progress.addEvent({
        ...base,
        type: 'vm-phase',
        vm,
        phase: 'waiting',
        detail: `source NOT fenced: ${step.site} did not answer within ${waited}`,
      });
      expired += 1;
    }
    this.pending = later;
    return expired;
  }
}
