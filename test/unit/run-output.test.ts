/**
 * Issue 10: every duration the run commands show says which clock it is on. The engine's (elapsed,
 * achieved RTO, event offsets) are wall time; the plan's estimate and the sites' recovery-point
 * times are simulated time. The status line used to put wall-clock elapsed next to a simulated
 * estimate as if they were comparable ("elapsed 12.0s / estimate 5m00s").
 */
import { describe, expect, it } from 'vitest';
import { gapLines, summaryLines } from '../../engine/cli/run/summary.ts';
import { progressLine } from '../../engine/cli/run/watch.ts';
import type { ExecutionView } from '../../engine/client/index.ts';
import { TIMELINE_CLOCKS, timelineLine } from '../../engine/report/index.ts';

function view(over: Partial<ExecutionView>): ExecutionView {
  return {
    id: 'planned-1',
    type: 'planned',
    direction: 'forward',
    planName: 'erp',
    hash: 'abc',
    by: 'tester',
    reason: 'move',
    epoch: 1,
    createdAt: '2026-12-02T08:00:00.000Z',
    status: 'running',
    stepsTotal: 10,
    stepsDone: 4,
    ...over,
  };
}

describe('the status line', () => {
  const running = view({ startedAt: '2026-12-02T08:00:05.000Z', estimateMs: 300_000 });
  const now = Date.parse('2026-12-02T08:00:12.000Z');

  it('gives elapsed wall time since submit and the estimate as simulated time, without comparing them', () => {
    const line = progressLine(running, now);
    expect(line).toContain('elapsed 12.0s wall; estimate 5m00s simulated');
    expect(line).not.toContain(' / estimate');
  });

  it('gives the estimate in wall time too, only when the clock speed is known', () => {
    expect(progressLine(running, now, 60)).toContain('estimate 5m00s simulated ≈ 5.0s wall at 60×');
  });
});

describe('the closing summary', () => {
  it("gives a recovery's achieved RTO as wall time from submit", () => {
    const done = view({ status: 'completed', rtoMs: 42_000, durationMs: 42_000, runMs: 40_000 });
    expect(summaryLines(done)[0]).toBe(
      'planned planned-1: completed; achieved RTO 42.0s wall from submit to the last VM ready; 4/10 steps',
    );
    expect(summaryLines(done, { speed: 60 })[0]).toContain(
      'achieved RTO 42.0s wall from submit to the last VM ready (≈ 42m00s simulated at 60×)',
    );
  });

  it('claims no RTO for a recovery that failed: it says how long it ran', () => {
    const [first] = summaryLines(view({ status: 'failed', durationMs: 9_000, runMs: 8_000 }));
    expect(first).toContain('failed; took 9.0s wall from submit');
    expect(first).not.toContain('RTO');
  });

  it('reports a duration, never an RTO, for a cleanup or a lifecycle execution', () => {
    for (const type of ['cleanup', 'commit', 'change-point', 'cancel', 'reprotect'] as const) {
      const [first] = summaryLines(view({ type, status: 'completed', durationMs: 3_100, runMs: 3_000 }));
      expect(first).toContain('took 3.1s wall from submit');
      expect(first).not.toContain('RTO');
    }
  });

  it("labels the recovery points' spread as simulated time", () => {
    const [first] = gapLines({ vms: [], oldest: 'a', newest: 'b', spreadMs: 228_000 });
    expect(first).toContain('spread 3m48s simulated');
  });
});

describe('the timeline', () => {
  const stored = (event: object) => ({ id: '1-0', event }) as Parameters<typeof timelineLine>[0];
  const at = '2026-12-02T08:00:42.000Z';
  const start = Date.parse('2026-12-02T08:00:00.000Z');

  it("says which clock its times are on, and a finished recovery's RTO is wall time", () => {
    expect(TIMELINE_CLOCKS).toContain('wall clock');
    expect(TIMELINE_CLOCKS).toContain('simulated');
    const line = timelineLine(
      stored({ v: 1, at, type: 'execution-finished', execution: 'x', status: 'completed', rtoMs: 42_000 }),
      start,
    );
    expect(line).toContain('finished: completed, RTO 42.0s wall');
  });

  it('gives a cleanup or lifecycle execution a duration, no RTO', () => {
    const line = timelineLine(
      stored({
        v: 1,
        at,
        type: 'execution-finished',
        execution: 'x',
        status: 'completed',
        durationMs: 3_100,
      }),
      start,
    );
    expect(line).toContain('finished: completed, took 3.1s wall');
    expect(line).not.toContain('RTO');
  });
});
