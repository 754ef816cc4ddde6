/**
 * One protected VM through an execution, following Hyper-V Replica / ASR: protected →
 * (planned: shutting down → prepared for failover) → failover in progress → failed over (awaiting
 * commit) → booting → awaiting readiness → ready; a test failover goes the same way with a test VM
 * and ends cleaning up → cleaned up. Errors are a state with retry. Pure: the orchestrator feeds it
 * the dispatches and step results of the VM and persists it per VM (vm-snapshot.ts).
 */
import { assign, setup } from 'xstate';
import type { StepKind } from '../plan/types.ts';

export type VmMode = 'test' | 'planned' | 'unplanned' | 'cleanup';

export interface VmContext {
  vm: string;
  mode: VmMode;
  /** Recovery point the replica was failed over from. */
  recoveryPoint?: { id: string; time: string; seq: number };
  /** Last error, kept for status until the VM is retried. */
  error?: { step: string; code: string; message: string };
  /** Failed attempts so far. */
  failures: number;
}

export type VmEvent =
  | { type: 'STARTED'; kind: StepKind }
  | { type: 'DONE'; kind: StepKind; recoveryPoint?: { id: string; time: string; seq: number } }
  | { type: 'FAILED'; step: string; code: string; message: string }
  | { type: 'RETRY'; kind: StepKind }
  | { type: 'CLEANUP_STARTED' }
  | { type: 'CLEANUP_DONE' };

/** Guards by name: the machine and the fast interpreter (vm-table.ts) share them. */
export const vmGuards = {
  isShutdown: (event: VmEvent): boolean => 'kind' in event && event.kind === 'shutdown',
  isFailover: (event: VmEvent): boolean => 'kind' in event && event.kind === 'failover',
  isBoot: (event: VmEvent): boolean => 'kind' in event && event.kind === 'boot',
  isReadiness: (event: VmEvent): boolean => 'kind' in event && event.kind === 'readiness',
} as const;

/** Context updates by name (pure), shared likewise. */
export const vmUpdates = {
  rememberPoint: (_context: VmContext, event: VmEvent): Partial<VmContext> =>
    event.type === 'DONE' && event.recoveryPoint ? { recoveryPoint: event.recoveryPoint } : {},
  rememberError: (context: VmContext, event: VmEvent): Partial<VmContext> => ({
    ...(event.type === 'FAILED'
      ? { error: { step: event.step, code: event.code, message: event.message } }
      : {}),
    failures: context.failures + 1,
  }),
  clearError: (): Partial<VmContext> => ({ error: undefined }),
} as const;

export const vmMachine = setup({
  types: {
    context: {} as VmContext,
    events: {} as VmEvent,
    input: {} as { vm: string; mode: VmMode },
  },
  guards: {
    isShutdown: ({ event }) => vmGuards.isShutdown(event),
    isFailover: ({ event }) => vmGuards.isFailover(event),
    isBoot: ({ event }) => vmGuards.isBoot(event),
    isReadiness: ({ event }) => vmGuards.isReadiness(event),
  },
  actions: {
    rememberPoint: assign(({ context, event }) => vmUpdates.rememberPoint(context, event)),
    rememberError: assign(({ context, event }) => vmUpdates.rememberError(context, event)),
    clearError: assign(() => vmUpdates.clearError()),
  },
}).createMachine({
  id: 'vm',
  context: ({ input }) => ({ vm: input.vm, mode: input.mode, failures: 0 }),
  initial: 'protected',
  on: { FAILED: { target: '.failed', actions: 'rememberError' } },
  states: {
    protected: {
      tags: ['waiting'],
      on: {
        STARTED: [
          { guard: 'isShutdown', target: 'shuttingDown' },
          { guard: 'isFailover', target: 'failoverInProgress' },
        ],
        DONE: [
          { guard: 'isShutdown', target: 'preparedForFailover' },
          { guard: 'isFailover', target: 'failedOver', actions: 'rememberPoint' },
        ],
        CLEANUP_STARTED: 'cleaningUp',
      },
    },
    shuttingDown: {
      tags: ['shutting-down'],
      on: { DONE: { guard: 'isShutdown', target: 'preparedForFailover' } },
    },
    preparedForFailover: {
      tags: ['waiting'],
      on: {
        STARTED: { guard: 'isFailover', target: 'failoverInProgress' },
        DONE: { guard: 'isFailover', target: 'failedOver', actions: 'rememberPoint' },
      },
    },
    failoverInProgress: {
      tags: ['failing-over'],
      on: { DONE: { guard: 'isFailover', target: 'failedOver', actions: 'rememberPoint' } },
    },
    /** Failed over, awaiting commit: the replica is the VM now, not yet started. */
    failedOver: {
      tags: ['waiting'],
      on: {
        STARTED: { guard: 'isBoot', target: 'booting' },
        DONE: [
          { guard: 'isBoot', target: 'awaitingReadiness' },
          { guard: 'isReadiness', target: 'ready' },
        ],
      },
    },
    booting: {
      tags: ['booting'],
      on: { DONE: { guard: 'isBoot', target: 'awaitingReadiness' } },
    },
    awaitingReadiness: {
      tags: ['awaiting-readiness'],
      on: { DONE: { guard: 'isReadiness', target: 'ready' } },
    },
    ready: {
      tags: ['ready'],
      on: { CLEANUP_STARTED: 'cleaningUp' },
    },
    cleaningUp: {
      tags: ['cleaning-up'],
      on: { CLEANUP_DONE: 'cleanedUp' },
    },
    cleanedUp: { tags: ['cleaned-up'], type: 'final' },
    failed: {
      tags: ['failed'],
      on: {
        RETRY: [
          { guard: 'isShutdown', target: 'shuttingDown', actions: 'clearError' },
          { guard: 'isFailover', target: 'failoverInProgress', actions: 'clearError' },
          { guard: 'isBoot', target: 'booting', actions: 'clearError' },
          { guard: 'isReadiness', target: 'awaitingReadiness', actions: 'clearError' },
        ],
        CLEANUP_STARTED: 'cleaningUp',
        CLEANUP_DONE: 'cleanedUp',
      },
    },
  },
});
