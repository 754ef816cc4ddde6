/**
 * Cleaning up a drill: a `cleanup` execution (id `<drill>-cleanup`, so asking twice, or the
 * deadline and an operator at once, makes one) that removes every test VM of the drill, with the
 * drill's own plan snapshot. The drill moves to cleaning up, and to cleaned up when it ends.
 */
import type { Redis } from 'ioredis';
import { DrError } from '../../common/index.ts';
import { loadExecution, loadPlanSnapshot } from './execution-record.ts';
import { META } from './record.ts';
import { submitExecution } from './submit.ts';
import { transitionExecution } from './transition.ts';

export interface CleanupRequest {
  by: string;
  reason: string;
  /** True when the drill's deadline asked for it (the machine records it as automatic). */
  automatic?: boolean;
  now?: () => number;
}

export function cleanupIdOf(drill: string): string {
  return `${drill}-cleanup`;
}

export async function submitCleanup(
  redis: Redis,
  prefix: string,
  drill: string,
  request: CleanupRequest,
): Promise<{ id: string; created: boolean }> {
  const now = request.now ?? Date.now;
  const { record } = await loadExecution(redis, prefix, drill);
  if (record.type !== 'test') {
    throw new DrError(
      'NOT_A_DRILL',
      `execution ${drill} is a ${record.type} failover; only a drill (test failover) is cleaned up`,
      { exitCode: 2 },
    );
  }
  if (record.status === 'cleaned-up') return { id: record.cleanup ?? cleanupIdOf(drill), created: false };
  if (record.status === 'submitted' || record.status === 'running') {
    throw new DrError(
      'DRILL_RUNNING',
      `drill ${drill} is still ${record.status}; clean it up once it has finished (\`drctl status ${drill}\`)`,
      {
        exitCode: 2,
        retryable: true,
      },
    );
  }
  const id = cleanupIdOf(drill);
  const plan = await loadPlanSnapshot(redis, prefix, drill);
  const submitted = await submitExecution(redis, prefix, {
    id,
    type: 'cleanup',
    direction: record.direction,
    plan,
    hash: record.hash,
    by: request.by,
    reason: request.reason,
    parent: drill,
    stepsTotal: plan.vms.length,
    estimateMs: 1000,
    now,
  });
  await transitionExecution(
    redis,
    prefix,
    drill,
    request.automatic ? { type: 'TICK', now: now() } : { type: 'CLEANUP_STARTED', now: now() },
    [[META.cleanup, id]],
  );
  return { id, created: submitted.created };
}
