/**
 * Persistence of the execution machine (a small JSON in the execution's meta hash, with a schema
 * version) and the status operators see.
 */
import { initialTransition, type SnapshotFrom, transition } from 'xstate';
import type { ExecutionStatus, ExecutionType } from '../contract/index.ts';
import { type ExecutionContext, type ExecutionMachineEvent, executionMachine } from './execution-machine.ts';

export const EXECUTION_SNAPSHOT_VERSION = 1;

export type ExecutionSnapshot = SnapshotFrom<typeof executionMachine>;

const STATUS_OF: Record<string, ExecutionStatus> = {
  submitted: 'submitted',
  running: 'running',
  paused: 'paused',
  awaitingCleanup: 'awaiting-cleanup',
  cleaningUp: 'cleaning-up',
  cleanedUp: 'cleaned-up',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
  changingPoint: 'changing-point',
  cancelling: 'cancelling',
  committing: 'committing',
  commitFailed: 'commit-failed',
  committed: 'committed',
  reprotecting: 'reprotecting',
  reprotectFailed: 'reprotect-failed',
  reprotected: 'reprotected',
};

/**
 * Statuses past a failover's point of no return: a commit started (other recovery points are
 * discarded) or the replication was reversed. Cancel refuses from here; failback is the way home.
 */
export const PAST_POINT_OF_NO_RETURN: readonly ExecutionStatus[] = [
  'committing',
  'commit-failed',
  'committed',
  'reprotecting',
  'reprotect-failed',
  'reprotected',
];

export function initialExecutionSnapshot(type: ExecutionType, deadlineAt?: number): ExecutionSnapshot {
  return initialTransition(executionMachine, { type, deadlineAt })[0];
}

export function applyExecutionEvent(
  snapshot: ExecutionSnapshot,
  event: ExecutionMachineEvent,
): { snapshot: ExecutionSnapshot; changed: boolean } {
  if (!snapshot.can(event)) return { snapshot, changed: false };
  const [next] = transition(executionMachine, snapshot, event);
  return { snapshot: next, changed: next.value !== snapshot.value };
}

export function executionStatus(snapshot: ExecutionSnapshot): ExecutionStatus {
  return STATUS_OF[String(snapshot.value)] ?? 'submitted';
}

/** True once nothing more will run for this execution (a drill awaiting cleanup counts as done running). */
export function isExecutionSettled(status: ExecutionStatus): boolean {
  return status !== 'submitted' && status !== 'running' && status !== 'paused';
}

export function persistExecution(snapshot: ExecutionSnapshot): string {
  const persisted = executionMachine.getPersistedSnapshot(snapshot) as unknown as {
    value: string;
    context: ExecutionContext;
  };
  return JSON.stringify({ v: EXECUTION_SNAPSHOT_VERSION, s: persisted.value, c: persisted.context });
}

export function restoreExecution(json: string): ExecutionSnapshot {
  const parsed = JSON.parse(json) as { v: number; s: string; c: ExecutionContext };
  if (parsed.v !== EXECUTION_SNAPSHOT_VERSION) {
    throw new Error(
      `execution snapshot version ${parsed.v} is not supported (expected ${EXECUTION_SNAPSHOT_VERSION})`,
    );
  }
  return executionMachine.resolveState({ value: parsed.s, context: parsed.c });
}
