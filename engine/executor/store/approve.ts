/**
 * An operator approves a manual action the execution waits on: the approval is delivered as the
 * step's completion, through the same stream as a worker's result.
 */
import type { Redis } from 'ioredis';
import { DrError } from '../../common/index.ts';
import { publishJobResult } from '../completions.ts';
import { stepJobId } from '../contract.ts';
import { executionKeys } from '../keys.ts';
import { decodeStepState } from '../schedule/step-state.ts';

export async function approveStep(
  redis: Redis,
  prefix: string,
  execution: string,
  actionOrStep: string,
  by: string,
): Promise<string> {
  const step = actionOrStep.includes('/') ? actionOrStep : `action/${actionOrStep}`;
  const stored = await redis.hget(executionKeys(prefix, execution).steps, step);
  const state = decodeStepState(stored ?? undefined);
  if (state.status !== 'queued' || state.jobKey !== step) {
    throw new DrError(
      'NOTHING_TO_APPROVE',
      `execution ${execution} is not waiting for approval of ${step} (it is ${state.status}); see \`drctl events ${execution}\``,
      {
        exitCode: 2,
      },
    );
  }
  const now = new Date().toISOString();
  await publishJobResult(redis, prefix, execution, stepJobId(execution, step, state.attempt), {
    v: 1,
    steps: [{ id: step, outcome: 'done', startedAt: now, endedAt: now, output: { approvedBy: by } }],
  });
  return step;
}
