import type { Redis } from 'ioredis';
import { clearFailedOver, markFailedOver } from './failed-over.ts';
import { releaseLocks } from './locks.ts';

/** What an execution's end means for its locks and failed-over records. */
export interface SettleRequest {
  execution: string;
  /** The execution's type (engine/executor's ExecutionType). */
  type: 'test' | 'planned' | 'unplanned' | 'cleanup' | (string & {});
  direction: 'forward' | 'failback';
  /** Its final status (completed, failed, cancelled, awaiting-cleanup, ...). */
  status: string;
  /** metadata.name of the plan snapshot. */
  plan: string;
  /** Every VM of the execution's plan snapshot (the locked ones). */
  vms: readonly string[];
  /**
   * VMs whose failover step is done (planned/unplanned): they now run at `toSite`, whatever the
   * execution's status.
   */
  failedOver: readonly string[];
  /** Where a failover brings the VMs. */
  toSite: string;
  /** A cleanup (or lifecycle execution): the execution it settles, whose locks it frees. */
  parent?: string;
  /** @defaultValue () => new Date() */
  now?: () => Date;
}

/** Statuses after which an execution's own locks go (a `cancelling` failover keeps them for its rollback). */
const RELEASING = new Set(['completed', 'failed', 'cancelled']);

export interface SettleResult {
  /** Whose locks were released ('' when none were: a drill keeps them until its cleanup). */
  releasedFor: string;
  released: number;
  marked: number;
  cleared: number;
}

/**
 * The end of an execution for the lock store, in this order (each step idempotent, so running it
 * again on a resumed orchestrator is harmless):
 * 1. a planned/unplanned failover records the VMs it failed over (forward: markFailedOver, so
 *    another plan's failover of them is refused until they come back; failback: clears this
 *    plan's records, the VMs are home). VMs count as soon as their failover step is done, even
 *    when the execution failed later: they run at the target either way.
 * 2. the locks are released when the execution is completed, failed or cancelled, except for a
 *    drill: its test VMs keep running until its cleanup, so a drill (completed or failed) keeps its
 *    locks, and its cleanup releases them when it completes. Generally an execution with a
 *    `parent` (a cleanup, or a lifecycle execution such as a cancel's rollback) releases its
 *    parent's locks when it completes; one that fails leaves them held (the test VMs may still be
 *    there): running it again releases them, or an operator frees them with `drctl locks release`.
 *    Any other status (e.g. a failover left `cancelling` for its rollback) keeps the locks.
 * Called before the execution's final status is written, so whoever sees it settled can start the
 * next run at once.
 */
export async function settleExecutionLocks(
  redis: Redis,
  prefix: string,
  request: SettleRequest,
): Promise<SettleResult> {
  const result: SettleResult = { releasedFor: '', released: 0, marked: 0, cleared: 0 };
  const failover = request.type === 'planned' || request.type === 'unplanned';
  if (failover && request.failedOver.length > 0) {
    if (request.direction === 'forward') {
      await markFailedOver(redis, prefix, request.failedOver, {
        plan: request.plan,
        execution: request.execution,
        site: request.toSite,
        direction: 'forward',
        at: (request.now ?? (() => new Date()))().toISOString(),
      });
      result.marked = request.failedOver.length;
    } else {
      result.cleared = await clearFailedOver(redis, prefix, request.failedOver, request.plan);
    }
  }
  let holder: string | undefined;
  if (request.parent !== undefined) holder = request.status === 'completed' ? request.parent : undefined;
  else if (request.type === 'test') holder = request.status === 'cancelled' ? request.execution : undefined;
  else if (RELEASING.has(request.status)) holder = request.execution;
  if (holder === undefined) return result;
  result.releasedFor = holder;
  result.released = await releaseLocks(redis, prefix, {
    execution: holder,
    plan: request.plan,
    vms: request.vms,
  });
  return result;
}
