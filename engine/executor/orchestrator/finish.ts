/**
 * The end of an execution: its machine's final transition, its durations (the achieved RTO of a
 * recovery counts from submit, so time queued with no orchestrator is included), each VM's
 * data-loss claim (failovers: engine/contract/data-loss.ts), the closing events; a cleanup also
 * settles its drill.
 */

import type { EngineEvent } from '../../contract/index.ts';
import { EVENT_SCHEMA_VERSION } from '../../contract/index.ts';
import { settleExecutionLocks } from '../../locks/index.ts';
import {
  applyExecutionEvent,
  type ExecutionSnapshot,
  executionStatus,
  persistExecution,
  vmPhase,
} from '../../machines/index.ts';
import { sitesOf } from '../../schedule/index.ts';
import { executionKeys, globalKeys } from '../keys.ts';
import { collectDataLoss, dataLossEvent } from '../store/data-loss.ts';
import type { ExecutionRecord } from '../store/execution-record.ts';
import { releaseLease } from '../store/lease.ts';
import { settleLifecycle } from '../store/lifecycle-settle.ts';
import { emptyWrite, META, type ProgressWrite } from '../store/record.ts';
import { transitionExecution } from '../store/transition.ts';
import { cancelIncomplete, cancelOutcome } from './cancel-outcome.ts';
import { crashPoint } from './crash-points.ts';
import { reprotectPhase, startFollowUps } from './follow-up.ts';
import type { ExecutionProgress } from './progress.ts';
import type { RunnerDeps } from './runner-deps.ts';

export async function finishExecution(
  deps: RunnerDeps,
  execution: string,
  token: string,
  record: ExecutionRecord,
  machine: ExecutionSnapshot,
  progress: ExecutionProgress,
  write: (batch: ProgressWrite) => Promise<void>,
): Promise<void> {
  const now = deps.now();
  const sites = sitesOf({ plan: progress.ctx.plan, direction: record.direction });
  // A cancel that brought VMs back up at the recovery site did not complete (cancel-outcome.ts).
  const incomplete =
    record.type === 'cancel'
      ? cancelIncomplete(
          cancelOutcome(progress.vmNames().map((name) => ({ name, state: progress.vm(name).value }))),
          record.parent ?? execution,
          sites,
        )
      : undefined;
  const stepsFailed =
    progress.failure ??
    (progress.failedSteps.length > 0 ? `steps failed: ${progress.failedSteps.join(', ')}` : undefined);
  const failed =
    incomplete !== undefined && stepsFailed !== undefined
      ? `${incomplete}; ${stepsFailed}`
      : (incomplete ?? stepsFailed);
  const ended = applyExecutionEvent(
    machine,
    // A failover cancelled while it ran settles `cancelling`; its rollback follows (below).
    progress.cancelRequested !== undefined
      ? { type: 'CANCEL_REQUESTED', now }
      : failed
        ? { type: 'FAIL', now, error: failed }
        : { type: 'ALL_STEPS_DONE', now },
  ).snapshot;
  // A failback that reprotects by itself never reads "completed": it goes on to its reprotect.
  const reprotect = await reprotectPhase(deps, record, ended, now);
  const next = reprotect?.snapshot ?? ended;
  const status = executionStatus(next);
  // A recovery that reached its end has an RTO: to the last VM ready (to the end when a VM never
  // got there, e.g. a readiness that only warned).
  const reachedEnd = status === 'completed' || status === 'awaiting-cleanup';
  const allReady = progress.vmNames().every((vm) => vmPhase(progress.vm(vm)) === 'ready');
  const recoveredAt = reachedEnd ? ((allReady ? progress.lastReadyAt : undefined) ?? now) : undefined;
  const durations = executionDurations(record, next.context.startedAt, now, recoveredAt);
  const at = new Date(now).toISOString();
  const batch = emptyWrite();
  batch.meta.push(
    [META.status, status],
    [META.machine, persistExecution(next)],
    [META.finishedAt, String(now)],
    [META.durationMs, String(durations.durationMs)],
    [META.runMs, String(durations.runMs)],
  );
  if (durations.rtoMs !== undefined) batch.meta.push([META.rtoMs, String(durations.rtoMs)]);
  if (failed) batch.meta.push([META.error, failed]);
  if (reprotect) batch.meta.push(...reprotect.meta);

  const failoverType = record.type === 'planned' || record.type === 'unplanned' ? record.type : undefined;
  // Each VM's data-loss claim, as its failover step made it from what the engine saw.
  const dataLoss =
    failoverType === undefined
      ? []
      : collectDataLoss(progress.vmNames().map((name) => ({ name, snapshot: progress.vm(name) })));
  if (dataLoss.length > 0) {
    batch.meta.push([META.dataLoss, JSON.stringify(dataLoss)]);
    batch.events.push(JSON.stringify(dataLossEvent(execution, at, dataLoss)));
  }
  if (incomplete !== undefined) {
    const note: EngineEvent = {
      v: EVENT_SCHEMA_VERSION,
      at,
      type: 'execution-status',
      execution,
      status,
      detail: incomplete,
    };
    batch.events.push(JSON.stringify(note));
  }
  if (status === 'awaiting-cleanup') {
    const note: EngineEvent = {
      v: EVENT_SCHEMA_VERSION,
      at,
      type: 'execution-status',
      execution,
      status,
      detail: `test VMs run until \`drctl cleanup ${execution}\` or the deadline ${record.deadline ?? ''}`,
    };
    batch.events.push(JSON.stringify(note));
  }
  const finished: EngineEvent = {
    v: EVENT_SCHEMA_VERSION,
    at,
    type: 'execution-finished',
    execution,
    status:
      status === 'failed'
        ? 'failed'
        : status === 'cancelled' || status === 'cancelling'
          ? 'cancelled'
          : 'completed',
    ...durations,
  };
  batch.events.push(JSON.stringify(finished));
  if (reprotect) batch.events.push(JSON.stringify(reprotect.event));

  // Locks and failed-over records (engine/locks), before the status is written: whoever sees the
  // execution settled may start the next run of these VMs at once.
  await settleExecutionLocks(deps.redis, deps.prefix, {
    execution,
    type: record.type,
    direction: record.direction,
    status,
    plan: progress.ctx.plan.metadata.name,
    vms: progress.vmNames(),
    failedOver: progress.vmNames().filter((vm) => {
      const step = progress.graph.state(`${vm}/failover`).status;
      return (
        (record.type === 'planned' || record.type === 'unplanned') && (step === 'done' || step === 'warned')
      );
    }),
    toSite: sites.toSite,
    ...(record.parent ? { parent: record.parent } : {}),
    now: () => new Date(now),
  });
  // A lifecycle execution (commit, change-point, cancel, reprotect) settles its failover first.
  const settled = await settleLifecycle(
    deps,
    record,
    status,
    progress.vmNames().map((name) => ({ name, snapshot: progress.vm(name) })),
    now,
    sites.fromSite,
    sites.toSite,
  );
  batch.meta.push(...settled.meta);
  batch.events.unshift(...settled.events.map((e) => JSON.stringify(e)));
  const global = globalKeys(deps.prefix);
  // A cleanup settles its drill before it records itself completed, so whoever sees the cleanup
  // completed sees the drill cleaned up. Repeating this on resume is harmless (the drill's machine
  // ignores a second CLEANUP_DONE).
  if (record.type === 'cleanup' && record.parent && status === 'completed') {
    await transitionExecution(deps.redis, deps.prefix, record.parent, { type: 'CLEANUP_DONE', now });
    await deps.redis.zrem(global.deadlines, record.parent);
  }
  await write(batch);
  crashPoint('after-finish-before-follow-up');
  // Still in the active set until here: an orchestrator that takes over stores these (runner.ts).
  await startFollowUps(deps, record, status);
  await deps.redis.zrem(global.active, execution);
  await releaseLease(deps.redis, executionKeys(deps.prefix, execution).lease, token);
  deps.log.info(
    { execution, status, ...durations, stepsDone: progress.graph.finished, steps: progress.graph.total },
    'execution finished',
  );
}

/** Executions that recover VMs and so have an RTO: drills and failovers (failbacks are failovers). */
const RECOVERIES: ReadonlySet<ExecutionRecord['type']> = new Set(['test', 'planned', 'unplanned']);

/**
 * Wall-clock durations of an execution that ends at `now`, all on the orchestrator's clock but the
 * submit time: from submit (`createdAt`) for every execution; from the orchestrator's start (the
 * first dispatch) for the benches; and for a recovery that reached its end (`recoveredAt`: its last
 * VM ready) the achieved RTO, from submit too. A cleanup or lifecycle execution has no RTO.
 */
export function executionDurations(
  record: Pick<ExecutionRecord, 'type' | 'createdAt'>,
  startedAt: number | undefined,
  now: number,
  recoveredAt?: number,
): { rtoMs?: number; durationMs: number; runMs: number } {
  const parsed = Date.parse(record.createdAt);
  const submitted = Number.isNaN(parsed) ? (startedAt ?? now) : parsed;
  const durationMs = Math.max(0, now - submitted);
  const runMs = Math.max(0, now - (startedAt ?? now));
  if (!RECOVERIES.has(record.type) || recoveredAt === undefined) return { durationMs, runMs };
  return { rtoMs: Math.max(0, recoveredAt - submitted), durationMs, runMs };
}
