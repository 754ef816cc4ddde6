/**
 * One execution of a plan: submitted → running → completed | failed | cancelled; a drill (test
 * failover) instead ends running → awaiting cleanup → cleaning up → cleaned up, by `drctl cleanup`
 * or by itself when its deadline passes. The deadline is context (delays are not restored from a
 * snapshot); time comes in with the events (`now`, ms), so the machine takes any clock.
 */
import { assign, setup } from 'xstate';
import type { ExecutionType } from '../executor/contract.ts';

export interface ExecutionContext {
  type: ExecutionType;
  /** Drill: when it is cleaned up by itself (ms since epoch). */
  deadlineAt?: number;
  startedAt?: number;
  finishedAt?: number;
  error?: string;
  /** True when the cleanup was started by the deadline, not by an operator. */
  autoCleanup?: boolean;
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
  | { type: 'TICK'; now: number };

export const executionMachine = setup({
  types: {
    context: {} as ExecutionContext,
    events: {} as ExecutionMachineEvent,
    input: {} as { type: ExecutionType; deadlineAt?: number },
  },
  guards: {
    isDrill: ({ context }) => context.type === 'test',
    deadlinePassed: ({ context, event }) =>
      context.deadlineAt !== undefined && event.type === 'TICK' && event.now >= context.deadlineAt,
  },
  actions: {
    markStarted: assign({ startedAt: ({ event }) => event.now }),
    markFinished: assign({ finishedAt: ({ event }) => event.now }),
    markError: assign({ error: ({ event }) => (event.type === 'FAIL' ? event.error : undefined) }),
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
        PAUSE: 'paused',
      },
    },
    /** Running, with one or more steps waiting for an operator (`drctl step retry|skip|done`); other branches go on. */
    paused: {
      on: {
        RESUME: 'running',
        FAIL: { target: 'failed', actions: ['markError', 'markFinished'] },
        CANCEL: { target: 'cancelled', actions: 'markFinished' },
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
    completed: { type: 'final' },
    /** A failed drill may still have test VMs: it can (and by its deadline will) be cleaned up. */
    failed: {
      on: {
        CLEANUP_STARTED: { guard: 'isDrill', target: 'cleaningUp' },
        TICK: { guard: 'deadlinePassed', target: 'cleaningUp', actions: 'markAutoCleanup' },
      },
    },
    cancelled: { type: 'final' },
  },
});
