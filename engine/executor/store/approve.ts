/**
 * An operator approves a manual action the execution waits on: the approval (who, when, comment)
 * is an operator command (store/operator.ts), delivered through the same stream as a worker's
 * result and recorded by the orchestrator with an `operator-action` event.
 */
import type { Redis } from 'ioredis';
import { giveOperatorCommand, type OperatorReceipt } from './operator.ts';

export async function approveStep(
  redis: Redis,
  prefix: string,
  execution: string,
  actionOrStep: string,
  by: string,
  options: { comment?: string; waitMs?: number } = {},
): Promise<string> {
  const receipt = await approveAction(redis, prefix, execution, actionOrStep, by, {
    waitMs: options.waitMs ?? 0,
    ...(options.comment === undefined ? {} : { comment: options.comment }),
  });
  return receipt.step;
}

/** Approve, with the receipt (whether the orchestrator applied it within `waitMs`). */
export async function approveAction(
  redis: Redis,
  prefix: string,
  execution: string,
  actionOrStep: string,
  by: string,
  options: { comment?: string; waitMs?: number } = {},
): Promise<OperatorReceipt> {
  return await giveOperatorCommand(redis, prefix, {
    execution,
    command: 'approve',
    step: actionOrStep,
    by,
    reason: options.comment ?? '',
    ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }),
  });
}
