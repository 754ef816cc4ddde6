/**
 * One protected VM through an execution, following Hyper-V Replica / ASR: protected →
 * (planned: shutting down → prepared for failover) → failover in progress → failed over (awaiting
 * commit) → booting → awaiting readiness → ready; a test failover goes the same way with a test VM
 * and ends cleaning up → cleaned up. Errors are a state with retry. Pure: the orchestrator feeds it
 * the dispatches and step results of the VM and persists it per VM (vm-snapshot.ts).
 */
import { assign, setup } from 'xstate';
import type { DataLossClaim, LifecycleType } from '../contract/index.ts';
import type { StepKind } from '../plan/types.ts';

/**
 * What the execution does to the VM. A lifecycle execution picks each VM up where its failover
 * left it (vm-snapshot.ts initialVmSnapshot): commit and cancel at `failedOver`, a change of
 * recovery point at `ready`, reprotect at `committed`. Its steps' kinds (failover on the replica,
 * boot on the primary, readiness for a wait) combine with the mode to name the transition. A
 * protect execution starts each VM at `protected` and ends it at `startActionSet`.
 */
export type VmMode = 'test' | 'planned' | 'unplanned' | 'cleanup' | LifecycleType | 'protect';

export interface VmContext {
  vm: string;
  mode: VmMode;
  /** Recovery point the replica was failed over from. */
  recoveryPoint?: { id: string; time: string };
  /** The host it was last started on (its boot step's answer), for status. */
  host?: string;
  /** The failover's data-loss claim (engine/contract/data-loss.ts), for planned and unplanned runs. */
  dataLoss?: DataLossClaim;
  /** Last error, kept for status until the VM is retried. */
  error?: { step: string; code: string; message: string };
  /** Failed attempts so far. */
  failures: number;
}

export type VmEvent =
  | { type: 'STARTED'; kind: StepKind }
  | {
      type: 'DONE';
      kind: StepKind;
      recoveryPoint?: { id: string; time: string };
      /** Boot: the host the VM runs on. */
      host?: string;
      dataLoss?: DataLossClaim;
      /** The code of a step that ended `warned` (a restore that could not reach the source). */
      warning?: string;
    }
  | { type: 'FAILED'; step: string; code: string; message: string }
  | { type: 'RETRY'; kind: StepKind }
  | { type: 'CLEANUP_STARTED' }
  | { type: 'CLEANUP_DONE' };

/** The warning of a cancel's restore that could not reach the source (handlers/revert.ts). */
export const PRIMARY_UNREACHABLE = 'PRIMARY_UNREACHABLE';

const kindIs = (event: VmEvent, kind: StepKind): boolean => 'kind' in event && event.kind === kind;

/** Guards by name: the machine and the fast interpreter (vm-table.ts) share them. */
export const vmGuards = {
  isShutdown: (event: VmEvent): boolean => kindIs(event, 'shutdown'),
  isFailover: (event: VmEvent): boolean => kindIs(event, 'failover'),
  isBoot: (event: VmEvent): boolean => kindIs(event, 'boot'),
  isReadiness: (event: VmEvent): boolean => kindIs(event, 'readiness'),
  /** Unplanned failover: fence the old primary at the source (the VM stays protected meanwhile). */
  isFence: (event: VmEvent): boolean => kindIs(event, 'fence'),
  /** Complete-VMFailover on the replica. */
  isCommit: (event: VmEvent, context: VmContext): boolean =>
    context.mode === 'commit' && kindIs(event, 'failover'),
  /** Cancel, replica side: turn the failed-over replica off, Stop-VMFailover. */
  isRevert: (event: VmEvent, context: VmContext): boolean =>
    context.mode === 'cancel' && kindIs(event, 'failover'),
  /** Cancel, primary side: Stop-VMFailover on the prepared primary, start it again. */
  isRestore: (event: VmEvent, context: VmContext): boolean =>
    context.mode === 'cancel' && kindIs(event, 'boot'),
  /** Cancel: the restore could not reach the source, its primary is not running (revert.ts). */
  isUnrestored: (event: VmEvent, context: VmContext): boolean =>
    context.mode === 'cancel' &&
    kindIs(event, 'boot') &&
    event.type === 'DONE' &&
    event.warning === PRIMARY_UNREACHABLE,
  /** Cancel: the return found the primary running at the source after all (return.ts PRIMARY_BACK). */
  isReturnedHome: (event: VmEvent, context: VmContext): boolean =>
    context.mode === 'cancel' &&
    kindIs(event, 'return') &&
    event.type === 'DONE' &&
    event.warning === 'PRIMARY_BACK',
  /** Cancel: the VM is brought back up at the recovery site, its source lost (return.ts). */
  isReturn: (event: VmEvent, context: VmContext): boolean =>
    context.mode === 'cancel' && kindIs(event, 'return'),
  /** Change of recovery point: cancel the failover, fail over again from another point. */
  isChangePoint: (event: VmEvent, context: VmContext): boolean =>
    context.mode === 'change-point' && kindIs(event, 'failover'),
  /** Set-VMReplication -Reverse on the failed-over VM. */
  isReprotect: (event: VmEvent, context: VmContext): boolean =>
    context.mode === 'reprotect' && kindIs(event, 'failover'),
  /** Reprotect: wait until the reversed replication is healthy. */
  isResync: (event: VmEvent, context: VmContext): boolean =>
    context.mode === 'reprotect' && kindIs(event, 'readiness'),
  /** Set-VM -AutomaticStartAction on the primary (its one step, whatever its kind). */
  isProtect: (_event: VmEvent, context: VmContext): boolean => context.mode === 'protect',
} as const;

/** Context updates by name (pure), shared likewise. */
export const vmUpdates = {
  rememberPoint: (_context: VmContext, event: VmEvent): Partial<VmContext> =>
    event.type === 'DONE'
      ? {
          ...(event.recoveryPoint ? { recoveryPoint: event.recoveryPoint } : {}),
          ...(event.dataLoss ? { dataLoss: event.dataLoss } : {}),
        }
      : {},
  rememberError: (context: VmContext, event: VmEvent): Partial<VmContext> => ({
    ...(event.type === 'FAILED'
      ? { error: { step: event.step, code: event.code, message: event.message } }
      : {}),
    failures: context.failures + 1,
  }),
  clearError: (): Partial<VmContext> => ({ error: undefined }),
  rememberHost: (_context: VmContext, event: VmEvent): Partial<VmContext> =>
    event.type === 'DONE' && event.host ? { host: event.host } : {},
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
    isFence: ({ event }) => vmGuards.isFence(event),
    isCommit: ({ event, context }) => vmGuards.isCommit(event, context),
    isRevert: ({ event, context }) => vmGuards.isRevert(event, context),
    isRestore: ({ event, context }) => vmGuards.isRestore(event, context),
    isUnrestored: ({ event, context }) => vmGuards.isUnrestored(event, context),
    isReturn: ({ event, context }) => vmGuards.isReturn(event, context),
    isReturnedHome: ({ event, context }) => vmGuards.isReturnedHome(event, context),
    isChangePoint: ({ event, context }) => vmGuards.isChangePoint(event, context),
    isReprotect: ({ event, context }) => vmGuards.isReprotect(event, context),
    isResync: ({ event, context }) => vmGuards.isResync(event, context),
    isProtect: ({ event, context }) => vmGuards.isProtect(event, context),
  },
  actions: {
    rememberPoint: assign(({ context, event }) => vmUpdates.rememberPoint(context, event)),
    rememberError: assign(({ context, event }) => vmUpdates.rememberError(context, event)),
    clearError: assign(() => vmUpdates.clearError()),
    rememberHost: assign(({ context, event }) => vmUpdates.rememberHost(context, event)),
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
          // Protect: the primary runs on as it is while its step runs.
          { guard: 'isProtect', target: 'protected' },
          { guard: 'isShutdown', target: 'shuttingDown' },
          { guard: 'isFailover', target: 'failoverInProgress' },
        ],
        DONE: [
          { guard: 'isProtect', target: 'startActionSet' },
          { guard: 'isShutdown', target: 'preparedForFailover' },
          { guard: 'isFailover', target: 'failedOver', actions: 'rememberPoint' },
        ],
        CLEANUP_STARTED: 'cleaningUp',
      },
    },
    /** Protect: the primary has the automatic start action asked for; it stays where it runs. */
    startActionSet: { tags: ['protected'], type: 'final' },
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
        STARTED: [
          { guard: 'isCommit', target: 'committing' },
          { guard: 'isRevert', target: 'rollingBack' },
          { guard: 'isBoot', target: 'booting' },
        ],
        DONE: [
          { guard: 'isBoot', target: 'awaitingReadiness', actions: 'rememberHost' },
          { guard: 'isReadiness', target: 'ready' },
        ],
      },
    },
    booting: {
      tags: ['booting'],
      on: { DONE: { guard: 'isBoot', target: 'awaitingReadiness', actions: 'rememberHost' } },
    },
    awaitingReadiness: {
      tags: ['awaiting-readiness'],
      on: { DONE: { guard: 'isReadiness', target: 'ready' } },
    },
    ready: {
      tags: ['ready'],
      on: {
        CLEANUP_STARTED: 'cleaningUp',
        STARTED: { guard: 'isChangePoint', target: 'failoverInProgress' },
      },
    },
    /** Complete-VMFailover: the other recovery points are discarded. */
    committing: {
      tags: ['committing'],
      on: { DONE: { guard: 'isCommit', target: 'committed' } },
    },
    /** Committed: the VM runs at the recovery site for good, until reprotect and failback. */
    committed: {
      tags: ['committed'],
      on: { STARTED: { guard: 'isReprotect', target: 'reprotecting' } },
    },
    /** Cancel: the replica is turned off and returns to replica state. */
    rollingBack: {
      tags: ['rolling-back'],
      // The point it ran from: a return fails it over from there again.
      on: { DONE: { guard: 'isRevert', target: 'reverted', actions: 'rememberPoint' } },
    },
    /** The replica is a replica again; its primary is still to be restarted where it can be. */
    reverted: {
      tags: ['rolling-back'],
      on: {
        STARTED: { guard: 'isRestore', target: 'restoring' },
        DONE: [
          { guard: 'isUnrestored', target: 'unrestored' },
          { guard: 'isRestore', target: 'rolledBack' },
        ],
      },
    },
    restoring: {
      tags: ['rolling-back'],
      on: {
        DONE: [
          { guard: 'isUnrestored', target: 'unrestored' },
          { guard: 'isRestore', target: 'rolledBack' },
        ],
      },
    },
    /** Back as before the failover: the primary at its source, replicating. */
    rolledBack: { tags: ['rolled-back'], type: 'final' },
    /** Off in both sites: its source could not be reached to restart the primary; a return follows. */
    unrestored: {
      tags: ['rolling-back'],
      on: {
        STARTED: { guard: 'isReturn', target: 'returning' },
        DONE: [
          { guard: 'isReturnedHome', target: 'rolledBack' },
          { guard: 'isReturn', target: 'returned', actions: 'rememberHost' },
        ],
      },
    },
    /** Failed over again from the point it ran from, and started, at the recovery site. */
    returning: {
      tags: ['failing-over'],
      on: {
        DONE: [
          { guard: 'isReturnedHome', target: 'rolledBack' },
          { guard: 'isReturn', target: 'returned', actions: 'rememberHost' },
        ],
      },
    },
    /** Runs at the recovery site again, failed over (awaiting commit): the cancel did not complete for it. */
    returned: { tags: ['ready'], type: 'final' },
    /** Set-VMReplication -Reverse: the recovered VM becomes the primary of a reversed replication. */
    reprotecting: {
      tags: ['reprotecting'],
      on: { DONE: { guard: 'isReprotect', target: 'reversed' } },
    },
    /** Reversed; resynchronizing (after an unplanned failover) until the health is Normal. */
    reversed: {
      tags: ['reprotecting'],
      on: { DONE: { guard: 'isResync', target: 'protectedReversed' } },
    },
    /** Protected in the other direction: a failback may follow. */
    protectedReversed: { tags: ['protected'], type: 'final' },
    cleaningUp: {
      tags: ['cleaning-up'],
      on: { CLEANUP_DONE: 'cleanedUp' },
    },
    cleanedUp: { tags: ['cleaned-up'], type: 'final' },
    failed: {
      tags: ['failed'],
      on: {
        RETRY: [
          // A protect step retried by an operator: the primary waits for it again.
          { guard: 'isProtect', target: 'protected', actions: 'clearError' },
          { guard: 'isCommit', target: 'committing', actions: 'clearError' },
          { guard: 'isRevert', target: 'rollingBack', actions: 'clearError' },
          { guard: 'isRestore', target: 'restoring', actions: 'clearError' },
          { guard: 'isReturn', target: 'returning', actions: 'clearError' },
          { guard: 'isReprotect', target: 'reprotecting', actions: 'clearError' },
          { guard: 'isResync', target: 'reversed', actions: 'clearError' },
          { guard: 'isShutdown', target: 'shuttingDown', actions: 'clearError' },
          { guard: 'isFailover', target: 'failoverInProgress', actions: 'clearError' },
          { guard: 'isBoot', target: 'booting', actions: 'clearError' },
          { guard: 'isReadiness', target: 'awaitingReadiness', actions: 'clearError' },
          // A fence retried after it failed: back to waiting for the failover, as before the fence.
          { guard: 'isFence', target: 'protected', actions: 'clearError' },
        ],
        CLEANUP_STARTED: 'cleaningUp',
        CLEANUP_DONE: 'cleanedUp',
      },
    },
  },
});
