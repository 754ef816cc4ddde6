import { describe, expect, it } from 'vitest';
import { transition } from 'xstate';
import {
  applyExecutionEvent,
  applyVmEvent,
  executionStatus,
  initialExecutionSnapshot,
  initialVmSnapshot,
  nextVmState,
  persistExecution,
  persistVm,
  restoreExecution,
  restoreVm,
  type VmEvent,
  vmMachine,
  vmPhase,
  vmStateName,
} from '../../engine/machines/index.ts';

describe('the VM machine', () => {
  it('follows a planned failover: shut down → prepared → failover in progress → failed over → booting → ready', () => {
    let vm = initialVmSnapshot('sql-01', 'planned');
    const phases: string[] = [vmPhase(vm)];
    for (const event of [
      { type: 'STARTED', kind: 'shutdown' },
      { type: 'DONE', kind: 'shutdown' },
      { type: 'STARTED', kind: 'failover' },
      { type: 'DONE', kind: 'failover', recoveryPoint: { id: 'p1', time: '2026-01-01T00:00:00Z' } },
      { type: 'DONE', kind: 'boot' },
      { type: 'DONE', kind: 'readiness' },
    ] as const) {
      const next = applyVmEvent(vm, event);
      expect(next.changed).toBe(true);
      vm = next.snapshot;
      phases.push(`${vmStateName(vm)}:${vmPhase(vm)}`);
    }
    expect(phases).toEqual([
      'waiting',
      'shuttingDown:shutting-down',
      'preparedForFailover:waiting',
      'failoverInProgress:failing-over',
      'failedOver:waiting',
      'awaitingReadiness:awaiting-readiness',
      'ready:ready',
    ]);
    expect(vm.context.recoveryPoint?.id).toBe('p1');
  });

  it('refuses a step out of order (ready before it was failed over)', () => {
    const vm = initialVmSnapshot('web-01', 'unplanned');
    expect(applyVmEvent(vm, { type: 'DONE', kind: 'readiness' }).changed).toBe(false);
  });

  it('keeps a failure as a state and leaves it on retry', () => {
    let vm = applyVmEvent(initialVmSnapshot('app-01', 'test'), {
      type: 'STARTED',
      kind: 'failover',
    }).snapshot;
    vm = applyVmEvent(vm, {
      type: 'FAILED',
      step: 'app-01/failover',
      code: 'HOST_DOWN',
      message: 'host down',
    }).snapshot;
    expect(vmPhase(vm)).toBe('failed');
    expect(vm.context.failures).toBe(1);
    vm = applyVmEvent(vm, { type: 'RETRY', kind: 'failover' }).snapshot;
    expect(vmPhase(vm)).toBe('failing-over');
    expect(vm.context.error).toBeUndefined();
  });

  it('an unplanned VM whose fence failed and is retried waits for its failover again', () => {
    let vm = applyVmEvent(initialVmSnapshot('app-01', 'unplanned'), {
      type: 'STARTED',
      kind: 'fence',
    }).snapshot;
    expect(vmStateName(vm)).toBe('protected');
    vm = applyVmEvent(vm, {
      type: 'FAILED',
      step: 'app-01/fence',
      code: 'STALE_EPOCH',
      message: 'newer epoch',
    }).snapshot;
    expect(vmPhase(vm)).toBe('failed');
    vm = applyVmEvent(vm, { type: 'RETRY', kind: 'fence' }).snapshot;
    expect(vmStateName(vm)).toBe('protected');
    expect(vm.context.error).toBeUndefined();
    vm = applyVmEvent(vm, { type: 'STARTED', kind: 'failover' }).snapshot;
    expect(vmPhase(vm)).toBe('failing-over');
  });

  it('survives persistence as a small value', () => {
    const vm = applyVmEvent(initialVmSnapshot('db', 'test'), { type: 'STARTED', kind: 'failover' }).snapshot;
    const json = persistVm(vm);
    expect(json.length).toBeLessThan(200);
    expect(vmPhase(restoreVm(json))).toBe('failing-over');
  });
});

describe('the execution machine', () => {
  it('ends a drill awaiting cleanup, and cleans it up by itself once the deadline passed (simulated clock)', () => {
    const now = 1_000;
    let exec = initialExecutionSnapshot('test', 10_000);
    exec = applyExecutionEvent(exec, { type: 'START', now }).snapshot;
    exec = applyExecutionEvent(exec, { type: 'ALL_STEPS_DONE', now: now + 500 }).snapshot;
    expect(executionStatus(exec)).toBe('awaiting-cleanup');
    expect(applyExecutionEvent(exec, { type: 'TICK', now: 9_999 }).changed).toBe(false);
    // Restored from its persisted form, the deadline still holds (it is context, not a timer).
    exec = restoreExecution(persistExecution(exec));
    exec = applyExecutionEvent(exec, { type: 'TICK', now: 10_000 }).snapshot;
    expect(executionStatus(exec)).toBe('cleaning-up');
    expect(exec.context.autoCleanup).toBe(true);
    exec = applyExecutionEvent(exec, { type: 'CLEANUP_DONE', now: 10_100 }).snapshot;
    expect(executionStatus(exec)).toBe('cleaned-up');
  });

  it('completes a failover, or fails it with the reason', () => {
    const running = applyExecutionEvent(initialExecutionSnapshot('planned'), {
      type: 'START',
      now: 1,
    }).snapshot;
    expect(executionStatus(applyExecutionEvent(running, { type: 'ALL_STEPS_DONE', now: 2 }).snapshot)).toBe(
      'completed',
    );
    const failed = applyExecutionEvent(running, {
      type: 'FAIL',
      now: 2,
      error: 'sql-01/boot: HOST_DOWN',
    }).snapshot;
    expect(executionStatus(failed)).toBe('failed');
    expect(failed.context.error).toBe('sql-01/boot: HOST_DOWN');
  });
});

describe('the fast VM interpreter', () => {
  it('agrees with xstate on every state and event', () => {
    const kinds = ['shutdown', 'fence', 'failover', 'boot', 'readiness', 'action', 'barrier'] as const;
    const events: VmEvent[] = [
      ...kinds.flatMap((kind) => [
        { type: 'STARTED', kind } as const,
        { type: 'DONE', kind } as const,
        { type: 'DONE', kind, recoveryPoint: { id: 'p', time: 't' } } as const,
        { type: 'RETRY', kind } as const,
      ]),
      { type: 'FAILED', step: 's', code: 'C', message: 'm' },
      { type: 'CLEANUP_STARTED' },
      { type: 'CLEANUP_DONE' },
    ];
    for (const value of Object.keys(vmMachine.root.states)) {
      const context = { vm: 'v', mode: 'planned' as const, failures: 1 };
      const xs = vmMachine.resolveState({ value, context });
      for (const event of events) {
        const fast = nextVmState({ value, context }, event);
        const [next] = transition(vmMachine, xs, event);
        // A final state takes no event (xstate's `can` still lists the root's transitions there).
        const accepted = xs.status === 'active' && xs.can(event);
        expect(fast !== undefined, `${value} + ${JSON.stringify(event)}`).toBe(accepted);
        if (fast) {
          expect(fast.value).toBe(String(next.value));
          expect(JSON.parse(JSON.stringify(fast.context))).toEqual(JSON.parse(JSON.stringify(next.context)));
        }
      }
    }
  });
});
