/**
 * What an execution's end starts by itself, so that a multi-phase operation belongs to the engine
 * and not to the process that asked for it:
 * - a failback submitted `thenReprotect` goes on to its reprotect (Set-VMReplication -Reverse at
 *   home, replicating to the original target again): its machine moves `running → reprotecting`
 *   in the same write that records its end, and the reprotect execution is stored right after;
 * - a failover cancelled while it ran gets its rollback stored (store/lifecycle.ts).
 * Both are idempotent and run again by any orchestrator that finds the execution still in the
 * active set (a crash between the end and the follow-up), so neither a dead CLI nor a dead
 * orchestrator leaves a failback "completed" with its replication not reversed.
 */
import type { EngineEvent, ExecutionStatus } from '../../contract/index.ts';
import { EVENT_SCHEMA_VERSION } from '../../contract/index.ts';
import { applyExecutionEvent, type ExecutionSnapshot, executionStatus } from '../../machines/index.ts';
import type { ExecutionRecord } from '../store/execution-record.ts';
import {
  LIFECYCLE_META,
  type LifecycleInfo,
  lifecycleIdOf,
  readLifecycle,
  submitPendingCancel,
  submitReprotect,
} from '../store/lifecycle.ts';
import type { RunnerDeps } from './runner-deps.ts';

/** The reprotect phase of a failback, decided with its end (finish.ts writes it in one batch). */
export interface ReprotectPhase {
  snapshot: ExecutionSnapshot;
  meta: [string, string][];
  event: EngineEvent;
}

/**
 * A `thenReprotect` failback whose failover back completed: its machine moved on to
 * `reprotecting`, with the reprotect named in its lifecycle. Undefined for any other end.
 */
export async function reprotectPhase(
  deps: Pick<RunnerDeps, 'redis' | 'prefix'>,
  record: ExecutionRecord,
  ended: ExecutionSnapshot,
  now: number,
): Promise<ReprotectPhase | undefined> {
  if (!record.thenReprotect || executionStatus(ended) !== 'completed') return undefined;
  const snapshot = applyExecutionEvent(ended, { type: 'REPROTECT_STARTED', now }).snapshot;
  if (executionStatus(snapshot) !== 'reprotecting') return undefined;
  const info = await readLifecycle(deps.redis, deps.prefix, record.id);
  const id = lifecycleIdOf(record.id, 'reprotect', info.runs.length + 1);
  const at = new Date(now).toISOString();
  const next: LifecycleInfo = {
    ...info,
    runs: [
      ...info.runs,
      { id, type: 'reprotect', at, by: record.by, reason: `reprotect after failback ${record.id}` },
    ],
    current: id,
  };
  return {
    snapshot,
    meta: [[LIFECYCLE_META.lifecycle, JSON.stringify(next)]],
    event: {
      v: EVENT_SCHEMA_VERSION,
      at,
      type: 'execution-status',
      execution: record.id,
      status: 'reprotecting',
      detail: `every VM is home; phase 2/2: ${id} reverses replication to the original direction`,
    },
  };
}

/**
 * Store what the end of `record` (now `status`) starts: the failback's reprotect, or a cancelled
 * failover's rollback. Idempotent: an execution already stored is not stored again.
 */
export async function startFollowUps(
  deps: Pick<RunnerDeps, 'redis' | 'prefix' | 'now' | 'log' | 'decided'>,
  record: ExecutionRecord,
  status: ExecutionStatus,
): Promise<void> {
  if (record.thenReprotect && status === 'reprotecting') {
    const submitted = await submitReprotect(deps.redis, deps.prefix, record.id, {
      by: record.by,
      reason: `reprotect after failback ${record.id}`,
      now: deps.now,
      // The orchestrator reads no hosts: the failback's own pre-flight covered these sites.
      hosts: null,
    });
    if (submitted.created) {
      deps.log.info({ execution: record.id, reprotect: submitted.id }, 'failback: reprotect submitted');
      await deps.decided?.({
        action: 'failover:reprotect',
        execution: submitted.id,
        about: record.id,
        plan: record.planName,
        detail: `reprotect after failback ${record.id}, as ${record.by} asked with thenReprotect`,
      });
    }
  }
  if (status === 'cancelling') await submitPendingCancel(deps.redis, deps.prefix, record.id, deps.now);
}
