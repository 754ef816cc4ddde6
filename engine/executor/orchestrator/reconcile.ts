/**
 * BullMQ's job state is the durable truth. On resume and when no completion arrived for a while,
 * the orchestrator reads, in one pipeline, the job hash of every job it marked queued: a missing
 * job is sent again (same id), a completed job's return value is recorded (each unit of a batch),
 * a failed job (its worker threw) fails the first step of each of its units.
 */
import type { Redis } from 'ioredis';
import type { StepJobResult } from '../../contract/index.ts';
import type { BullJob } from '../../schedule/index.ts';
import { parseStepJobResult } from '../completions.ts';
import { bullJobKey } from '../keys.ts';

export interface ReconcileOutcome {
  missing: BullJob[];
  /** `synthesized`: the worker threw, so no step events were written for it. */
  finished: { jobId: string; result: StepJobResult; synthesized: boolean }[];
}

export async function reconcileJobs(
  redis: Redis,
  prefix: string,
  jobs: readonly BullJob[],
): Promise<ReconcileOutcome> {
  const outcome: ReconcileOutcome = { missing: [], finished: [] };
  if (jobs.length === 0) return outcome;
  const pipeline = redis.pipeline();
  for (const job of jobs) {
    pipeline.hmget(
      bullJobKey(prefix, job.queue, job.jobId),
      'timestamp',
      'finishedOn',
      'returnvalue',
      'failedReason',
    );
  }
  const replies = (await pipeline.exec()) ?? [];
  jobs.forEach((job, index) => {
    const [error, value] = replies[index] ?? [null, null];
    if (error) throw error;
    const [timestamp, finishedOn, returnvalue, failedReason] = (value ?? []) as (string | null)[];
    if (!timestamp) {
      outcome.missing.push(job);
      return;
    }
    if (!finishedOn) return;
    if (returnvalue && returnvalue !== 'null' && !failedReason) {
      // A batch returns each unit's result; a single StepJobData job (older orchestrators) its own.
      const value: unknown = JSON.parse(returnvalue);
      const units =
        value !== null && typeof value === 'object' && 'units' in value && Array.isArray(value.units)
          ? value.units
          : [value];
      for (const unit of units) {
        outcome.finished.push({
          jobId: job.jobId,
          result: parseStepJobResult(unit, `job ${job.jobId}`),
          synthesized: false,
        });
      }
      return;
    }
    // The worker threw: every unit's first step fails (retryable), the rest of the unit did not
    // run. Units that had already published their results are recorded; those results stand.
    const now = new Date().toISOString();
    for (const unit of job.data.units) {
      const [first, ...rest] = unit.steps;
      const result: StepJobResult = {
        v: 1,
        steps: [
          {
            id: first ?? '',
            outcome: 'failed',
            startedAt: now,
            endedAt: now,
            error: {
              code: 'JOB_FAILED',
              message: `the worker of ${job.data.site} failed job ${job.jobId}: ${failedReason ?? 'no reason given'}`,
              retryable: true,
            },
          },
          ...rest.map((id) => ({ id, outcome: 'skipped' as const, startedAt: now, endedAt: now })),
        ],
      };
      outcome.finished.push({ jobId: job.jobId, result, synthesized: true });
    }
  });
  return outcome;
}
