import { describe, expect, it } from 'vitest';
import { transition } from 'xstate';
import {
  applyExecutionEvent,
  applyVmEvent,
  type ExecutionMachineEvent,
  executionStatus,
  initialExecutionSnapshot,
  initialVmSnapshot,
  nextVmState,
  PAST_POINT_OF_NO_RETURN,
  persistExecution,
  restoreExecution,
  type VmEvent,
  type VmMode,
  vmMachine,
  vmPhase,
  vmStateName,
} from '../../engine/machines/index.ts';

function run(type: 'planned' | 'unplanned' | 'test', events: ExecutionMachineEvent['type'][]): string[] {
  let snapshot = initialExecutionSnapshot(type);
  const statuses: string[] = [];
  for (const [i, type_] of events.entries()) {
    const event = { type: type_, now: i, error: 'e' } as ExecutionMachineEvent;
    snapshot = applyExecutionEvent(snapshot, event).snapshot;
    // Every state persists and restores.
    snapshot = restoreExecution(persistExecution(snapshot));
    statuses.push(executionStatus(snapshot));
  }
  return statuses;
}

describe("a failover's lifecycle (execution machine)", () => {
  it('commit, then reprotect: past the point of no return from the commit on', () => {
    const statuses = run('planned', [
      'START',
      'ALL_STEPS_DONE',
      'COMMIT_STARTED',
      'CANCEL_STARTED',
      'COMMIT_DONE',
      'CHANGE_POINT_STARTED',
      'REPROTECT_STARTED',
      'REPROTECT_DONE',
    ]);
    expect(statuses).toEqual([
      'running',
      'completed',
      'committing',
      'committing',
      'committed',
      'committed',
      'reprotecting',
      'reprotected',
    ]);
    expect(statuses.slice(2).every((s) => PAST_POINT_OF_NO_RETURN.includes(s as never))).toBe(true);
  });

  it('change of point returns to completed (or failed); cancel ends cancelled; a failed rollback may run again', () => {
    expect(run('unplanned', ['START', 'FAIL', 'CHANGE_POINT_STARTED', 'CHANGE_POINT_DONE'])).toEqual([
      'running',
      'failed',
      'changing-point',
      'completed',
    ]);
    expect(
      run('planned', [
        'START',
        'ALL_STEPS_DONE',
        'CANCEL_STARTED',
        'CANCEL_FAILED',
        'CANCEL_STARTED',
        'CANCEL_DONE',
      ]),
    ).toEqual(['running', 'completed', 'cancelling', 'failed', 'cancelling', 'cancelled']);
  });

  it('a running failover asked to cancel settles cancelling; a drill has no lifecycle', () => {
    expect(run('planned', ['START', 'CANCEL_REQUESTED', 'CANCEL_DONE'])).toEqual([
      'running',
      'cancelling',
      'cancelled',
    ]);
    expect(run('test', ['START', 'ALL_STEPS_DONE', 'COMMIT_STARTED', 'CANCEL_STARTED'])).toEqual([
      'running',
      'awaiting-cleanup',
      'awaiting-cleanup',
      'awaiting-cleanup',
    ]);
  });
});

function phases(mode: VmMode, events: VmEvent[]): string[] {
  let vm = initialVmSnapshot('v', mode);
  const out = [`${vmStateName(vm)}:${vmPhase(vm)}`];
  for (const event of events) {
    const next = applyVmEvent(vm, event);
    expect(next.changed, `${mode} ${vmStateName(vm)} + ${JSON.stringify(event)}`).toBe(true);
    vm = next.snapshot;
    out.push(`${vmStateName(vm)}:${vmPhase(vm)}`);
  }
  return out;
}

describe('a VM through the lifecycle executions', () => {
  it('commit, cancel, change of point and reprotect each start where the failover left the VM', () => {
    expect(
      phases('commit', [
        { type: 'STARTED', kind: 'failover' },
        { type: 'DONE', kind: 'failover' },
      ]),
    ).toEqual(['failedOver:waiting', 'committing:committing', 'committed:committed']);
    expect(
      phases('cancel', [
        { type: 'STARTED', kind: 'failover' },
        { type: 'DONE', kind: 'failover' },
        { type: 'STARTED', kind: 'boot' },
        { type: 'DONE', kind: 'boot' },
      ]),
    ).toEqual([
      'failedOver:waiting',
      'rollingBack:rolling-back',
      'reverted:rolling-back',
      'restoring:rolling-back',
      'rolledBack:rolled-back',
    ]);
    expect(
      phases('change-point', [
        { type: 'STARTED', kind: 'failover' },
        { type: 'DONE', kind: 'failover', recoveryPoint: { id: 'older', time: 't' } },
        { type: 'DONE', kind: 'boot' },
        { type: 'DONE', kind: 'readiness' },
      ]),
    ).toEqual([
      'ready:ready',
      'failoverInProgress:failing-over',
      'failedOver:waiting',
      'awaitingReadiness:awaiting-readiness',
      'ready:ready',
    ]);
    expect(
      phases('reprotect', [
        { type: 'STARTED', kind: 'failover' },
        { type: 'DONE', kind: 'failover' },
        { type: 'DONE', kind: 'readiness' },
      ]),
    ).toEqual([
      'committed:committed',
      'reprotecting:reprotecting',
      'reversed:reprotecting',
      'protectedReversed:protected',
    ]);
  });

  it('a protect leaves the primary where it runs and ends it protected; a retried one waits again', () => {
    expect(
      phases('protect', [
        { type: 'STARTED', kind: 'boot' },
        { type: 'DONE', kind: 'boot' },
      ]),
    ).toEqual(['protected:waiting', 'protected:waiting', 'startActionSet:protected']);
    // Its step is of kind boot ("acts on the primary"): a retry must not read as a boot.
    expect(
      phases('protect', [
        { type: 'FAILED', step: 'v/protect', code: 'HOST_DOWN', message: 'm' },
        { type: 'RETRY', kind: 'boot' },
        { type: 'DONE', kind: 'boot' },
      ]),
    ).toEqual(['protected:waiting', 'failed:failed', 'protected:waiting', 'startActionSet:protected']);
  });

  it('a failed lifecycle step is retried into the same operation', () => {
    expect(
      phases('commit', [
        { type: 'STARTED', kind: 'failover' },
        { type: 'FAILED', step: 'v/commit', code: 'HOST_DOWN', message: 'm' },
        { type: 'RETRY', kind: 'failover' },
        { type: 'DONE', kind: 'failover' },
      ]),
    ).toEqual([
      'failedOver:waiting',
      'committing:committing',
      'failed:failed',
      'committing:committing',
      'committed:committed',
    ]);
  });

  it('the fast interpreter agrees with xstate in every mode, state and event', () => {
    const kinds = ['shutdown', 'failover', 'boot', 'readiness', 'action', 'barrier'] as const;
    const events: VmEvent[] = [
      ...kinds.flatMap((kind) => [
        { type: 'STARTED', kind } as const,
        { type: 'DONE', kind } as const,
        { type: 'RETRY', kind } as const,
      ]),
      { type: 'FAILED', step: 's', code: 'C', message: 'm' },
      { type: 'CLEANUP_STARTED' },
      { type: 'CLEANUP_DONE' },
    ];
    const modes: VmMode[] = [
      'test',
      'planned',
      'unplanned',
      'cleanup',
      'commit',
      'change-point',
      'cancel',
      'reprotect',
      'protect',
    ];
    for (const mode of modes) {
      for (const value of Object.keys(vmMachine.root.states)) {
        const context = { vm: 'v', mode, failures: 1 };
        const xs = vmMachine.resolveState({ value, context });
        for (const event of events) {
          const fast = nextVmState({ value, context }, event);
          const [next] = transition(vmMachine, xs, event);
          const accepted = xs.status === 'active' && xs.can(event);
          expect(fast !== undefined, `${mode} ${value} + ${JSON.stringify(event)}`).toBe(accepted);
          if (fast) expect(fast.value).toBe(String(next.value));
        }
      }
    }
  });
});
