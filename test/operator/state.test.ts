/**
 * The pure parts of pause: the execution machine's `paused` state, the stored step state
 * `paused|<attempt>`, and the operator commands' completion format.
 */
import { describe, expect, it } from 'vitest';
import { isOperatorJobId, operatorCompletion } from '../../engine/executor/orchestrator/operator.ts';
import {
  applyExecutionEvent,
  executionStatus,
  initialExecutionSnapshot,
  isExecutionSettled,
  persistExecution,
  restoreExecution,
} from '../../engine/machines/index.ts';
import { decodeStepState, encodeStepState, isFinal } from '../../engine/schedule/index.ts';

describe('the execution machine while a step waits for an operator', () => {
  const running = () =>
    applyExecutionEvent(initialExecutionSnapshot('planned'), { type: 'START', now: 1 }).snapshot;

  it('goes paused and back to running; paused is not settled and survives persist/restore', () => {
    const paused = applyExecutionEvent(running(), { type: 'PAUSE', now: 2 });
    expect(paused.changed).toBe(true);
    expect(executionStatus(paused.snapshot)).toBe('paused');
    expect(isExecutionSettled('paused')).toBe(false);
    const restored = restoreExecution(persistExecution(paused.snapshot));
    expect(executionStatus(restored)).toBe('paused');
    expect(executionStatus(applyExecutionEvent(restored, { type: 'RESUME', now: 3 }).snapshot)).toBe(
      'running',
    );
  });

  it('a paused run can still fail (fail-plan elsewhere) or be cancelled', () => {
    const paused = applyExecutionEvent(running(), { type: 'PAUSE', now: 2 }).snapshot;
    expect(executionStatus(applyExecutionEvent(paused, { type: 'FAIL', now: 3, error: 'x' }).snapshot)).toBe(
      'failed',
    );
    expect(executionStatus(applyExecutionEvent(paused, { type: 'CANCEL', now: 3 }).snapshot)).toBe(
      'cancelled',
    );
  });

  it('ignores PAUSE before the run started and RESUME while running', () => {
    expect(applyExecutionEvent(initialExecutionSnapshot('planned'), { type: 'PAUSE', now: 1 }).changed).toBe(
      false,
    );
    expect(applyExecutionEvent(running(), { type: 'RESUME', now: 2 }).changed).toBe(false);
  });
});

describe('a paused step as stored', () => {
  it('round-trips as paused|<attempt>, is neither final nor queued', () => {
    expect(encodeStepState({ status: 'paused', attempt: 3 })).toBe('paused|3');
    expect(decodeStepState('paused|3')).toEqual({ status: 'paused', attempt: 3 });
    expect(isFinal('paused')).toBe(false);
  });
});

describe('operator commands in the completions stream', () => {
  it('carry who, why, when and the attempt, under a job id no BullMQ job has', () => {
    const { jobId, result } = operatorCompletion({
      command: 'skip',
      step: 'app-02/readiness',
      attempt: 2,
      by: 'alice',
      reason: 'not needed',
      givenAt: '2026-11-26T03:00:00.000Z',
    });
    expect(jobId).toBe('operator.skip');
    expect(isOperatorJobId(jobId)).toBe(true);
    expect(isOperatorJobId('ex1.app-02/readiness.a2')).toBe(false);
    expect(result.steps[0]).toMatchObject({
      id: 'app-02/readiness',
      outcome: 'skipped',
      output: { operator: { command: 'skip', by: 'alice', reason: 'not needed', attempt: 2 } },
    });
  });
});
