/**
 * One execution of a plan: submitted → running → completed | failed | cancelled; a drill (test
 * failover) instead ends running → awaiting cleanup → cleaning up → cleaned up, by `drctl cleanup`
 * or by itself when its deadline passes. The deadline is context (delays are not restored from a
 * snapshot); time comes in with the events (`now`, ms), so the machine takes any clock.
 *
 * A planned or unplanned failover lives on after it ran (its lifecycle, each step an execution of
 * its own): completed | failed → committing → committed → reprotecting → reprotected; before the
 * point of no return (a commit started, or the source reversed) it may change its recovery point
 * (changing point → completed | failed) or be cancelled (cancelling → cancelled). Cancelling a
 * running failover stops its dispatch first (running → cancelling once its jobs in flight end).
 */
import { assign, setup } from 'xstate';
import type { ExecutionType } from '../contract/index.ts';

export interface ExecutionContext {
  type: ExecutionType;
  /** Drill: when it is cleaned up by itself (ms since epoch). */
  deadlineAt?: number;
  startedAt?: number;
  finishedAt?: number;
  error?: string;
  /** True when the cleanup was started by the deadline, not by an operator. */
  autoCleanup?: boolean;
  /** Failover: when its last lifecycle operation (commit, change point, cancel, reprotect) began. */
  lifecycleAt?: number;
}

export type ExecutionMachineEvent =
  | { type: 'START'; now: number }
  | { type: 'ALL_STEPS_DONE'; now: number }
  | { type: 'FAIL'; now: number; error: string }
  | { type: 'CANCEL'; now: number }
  /** A step failed under `then: pause` and waits for an operator; RESUME once none waits. */
  | { type: 'PAUSE'; now: number }
  | { type: 'RESUME'; now: number }
  | { type: 'CLEANUP_STARTED'; now: number }
  | { type: 'CLEANUP_DONE'; now: number }
  | { type: 'TICK'; now: number }
  | { type: 'CANCEL_REQUESTED'; now: number }
  | { type: 'COMMIT_STARTED'; now: number }
  | { type: 'COMMIT_DONE'; now: number }
  | { type: 'COMMIT_FAILED'; now: number; error: string }
  | { type: 'CHANGE_POINT_STARTED'; now: number }
  | { type: 'CHANGE_POINT_DONE'; now: number }
  | { type: 'CHANGE_POINT_FAILED'; now: number; error: string }
  | { type: 'CANCEL_STARTED'; now: number }
  | { type: 'CANCEL_DONE'; now: number }
  | { type: 'CANCEL_FAILED'; now: number; error: string }
  | { type: 'REPROTECT_STARTED'; now: number }
  | { type: 'REPROTECT_DONE'; now: number }
  | { type: 'REPROTECT_FAILED'; now: number; error: string };

export const executionMachine = setup({
  types: {
    context: {} as ExecutionContext,
    events: {} as ExecutionMachineEvent,
    input: {} as { type: ExecutionType; deadlineAt?: number },
  },
  guards: {
    isDrill: ({ context }) => context.type === 'test',
    isFailover: ({ context }) => context.type === 'planned' || context.type === 'unplanned',
    deadlinePassed: ({ context, event }) =>
      context.deadlineAt !== undefined && event.type === 'TICK' && event.now >= context.deadlineAt,
  },
  actions: {
    markStarted: assign({ startedAt: ({ event }) => event.now }),
    markFinished: assign({ finishedAt: ({ event }) => event.now }),
    markError: assign({ error: ({ event }) => ('error' in event ? event.error : undefined) }),
    markLifecycle: assign({ lifecycleAt: ({ event }) => event.now }),
    markAutoCleanup: assign({ autoCleanup: () => true }),
  },
}).createMachine({
  id: 'execution',
  context: ({ input }) => ({ type: input.type, deadlineAt: input.deadlineAt }),
  initial: 'submitted',
  states: {
    submitted: {
      on: {
        START: { target: 'running', actions: 'markStarted' },
        CANCEL: { target: 'cancelled', actions: 'markFinished' },
      },
    },
    running: {
      on: {
        ALL_STEPS_DONE: [
          { guard: 'isDrill', target: 'awaitingCleanup', actions: 'markFinished' },
          { target: 'completed', actions: 'markFinished' },
        ],
        FAIL: { target: 'failed', actions: ['markError', 'markFinished'] },
        CANCEL: { target: 'cancelled', actions: 'markFinished' },
        CANCEL_REQUESTED: {
          guard: 'isFailover',
          target: 'cancelling',
          actions: ['markFinished', 'markLifecycle'],
        },
        PAUSE: 'paused',
      },
    },
    /** Running, with one or more steps waiting for an operator (`drctl step retry|skip|done`); other branches go on. */
    paused: {
      on: {
        RESUME: 'running',
        FAIL: { target: 'failed', actions: ['markError', 'markFinished'] },
        CANCEL: { target: 'cancelled', actions: 'markFinished' },
        CANCEL_REQUESTED: {
          guard: 'isFailover',
          target: 'cancelling',
          actions: ['markFinished', 'markLifecycle'],
        },
      },
    },
    /** Drill done: the test VMs run on their test networks until cleanup. */
    awaitingCleanup: {
      on: {
        CLEANUP_STARTED: 'cleaningUp',
        TICK: { guard: 'deadlinePassed', target: 'cleaningUp', actions: 'markAutoCleanup' },
      },
    },
    cleaningUp: {
      on: { CLEANUP_DONE: 'cleanedUp' },
    },
    cleanedUp: { type: 'final' },
    /** A failover that ran: awaiting commit (or a change of point, a cancel, a reprotect). */
    completed: {
      on: {
        COMMIT_STARTED: { guard: 'isFailover', target: 'committing', actions: 'markLifecycle' },
        CHANGE_POINT_STARTED: { guard: 'isFailover', target: 'changingPoint', actions: 'markLifecycle' },
        CANCEL_STARTED: { guard: 'isFailover', target: 'cancelling', actions: 'markLifecycle' },
        REPROTECT_STARTED: { guard: 'isFailover', target: 'reprotecting', actions: 'markLifecycle' },
      },
    },
    /**
     * A failed drill may still have test VMs: it can (and by its deadline will) be cleaned up. A
     * failed failover may have failed some VMs over: they can be committed (partially), moved to
     * another point, or rolled back.
     */
    failed: {
      on: {
        CLEANUP_STARTED: { guard: 'isDrill', target: 'cleaningUp' },
        TICK: { guard: 'deadlinePassed', target: 'cleaningUp', actions: 'markAutoCleanup' },
        COMMIT_STARTED: { guard: 'isFailover', target: 'committing', actions: 'markLifecycle' },
        CHANGE_POINT_STARTED: { guard: 'isFailover', target: 'changingPoint', actions: 'markLifecycle' },
        CANCEL_STARTED: { guard: 'isFailover', target: 'cancelling', actions: 'markLifecycle' },
      },
    },
    cancelled: { type: 'final' },
    changingPoint: {
      on: {
        CHANGE_POINT_DONE: 'completed',
        CHANGE_POINT_FAILED: { target: 'failed', actions: 'markError' },
      },
    },
    /** Rolling back (a `cancel` execution runs); a rollback that failed may be run again. */
    cancelling: {
      on: {
        CANCEL_DONE: 'cancelled',
        CANCEL_FAILED: { target: 'failed', actions: 'markError' },
      },
    },
    /** Past the point of no return from here on: cancel refuses, failback is the way home. */
    committing: {
      on: {
        COMMIT_DONE: 'committed',
        COMMIT_FAILED: { target: 'commitFailed', actions: 'markError' },
      },
    },
    commitFailed: {
      on: {
        COMMIT_STARTED: { target: 'committing', actions: 'markLifecycle' },
        REPROTECT_STARTED: { target: 'reprotecting', actions: 'markLifecycle' },
      },
    },
    committed: {
      on: { REPROTECT_STARTED: { target: 'reprotecting', actions: 'markLifecycle' } },
    },
    reprotecting: {
      on: {
        REPROTECT_DONE: 'reprotected',
        REPROTECT_FAILED: { target: 'reprotectFailed', actions: 'markError' },
      },
    },
    reprotectFailed: {
      on: { REPROTECT_STARTED: { target: 'reprotecting', actions: 'markLifecycle' } },
    },
    /** Replicating back: a failback of the plan may follow. */
    reprotected: { type: 'final' },
  },
});
