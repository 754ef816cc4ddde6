/**
 * The VM timeline's fold (engine/control/routes/vm-timeline.ts): a VM's state, start, end and last
 * step from its events, as the dashboard's rows show them.
 */
import { describe, expect, it } from 'vitest';
import { applyEvent, newFold, type TimelineShape } from '../../engine/control/routes/vm-timeline.ts';

const shape: TimelineShape = {
  vms: ['sql-01', 'web-01'],
  waveOf: new Map([
    ['sql-01', 0],
    ['web-01', 1],
  ]),
  vmOfStep: new Map([
    ['sql-01/failover', 'sql-01'],
    ['sql-01/boot', 'sql-01'],
    ['web-01/failover', 'web-01'],
  ]),
};

const at = (s: number) => new Date(Date.UTC(2026, 11, 2, 12, 0, s)).toISOString();
const phase = (vm: string, p: string, s: number) =>
  JSON.stringify({ v: 1, at: at(s), type: 'vm-phase', execution: 'x', vm, site: 'dc-west', phase: p });
const started = (step: string, s: number) =>
  JSON.stringify({
    v: 1,
    at: at(s),
    type: 'step-started',
    execution: 'x',
    step,
    site: 'dc-west',
    attempt: 1,
  });

describe('when a VM goes through its failover', () => {
  it('is waiting, then shows each state, when it started and when it was ready', () => {
    const fold = newFold(shape);
    expect(fold.rows.get('web-01')).toEqual({ vm: 'web-01', wave: 1, state: 'waiting' });
    for (const [raw] of [
      [JSON.stringify({ v: 1, at: at(0), type: 'execution-started', execution: 'x', orchestrator: 'o' })],
      [started('sql-01/failover', 1)],
      [phase('sql-01', 'failing-over', 1)],
      [started('sql-01/boot', 3)],
      [phase('sql-01', 'booting', 3)],
      [phase('sql-01', 'ready', 5)],
      [phase('sql-01', 'committed', 9)],
    ] as const)
      applyEvent(fold, shape, raw);
    expect(fold.rows.get('sql-01')).toEqual({
      vm: 'sql-01',
      wave: 0,
      state: 'ready',
      phase: 'committed',
      startedAt: at(1),
      endedAt: at(5),
      step: 'sql-01/boot',
    });
    expect(fold.startedAt).toBe(at(0));
  });
});

describe('when a VM fails and its step is retried', () => {
  it('ends at the failure, then runs again and ends when it is ready', () => {
    const fold = newFold(shape);
    applyEvent(fold, shape, phase('web-01', 'failing-over', 1));
    applyEvent(fold, shape, phase('web-01', 'failed', 2));
    expect(fold.rows.get('web-01')).toMatchObject({ state: 'failed', endedAt: at(2) });
    applyEvent(fold, shape, phase('web-01', 'failing-over', 4));
    expect(fold.rows.get('web-01')?.endedAt).toBeUndefined();
    applyEvent(fold, shape, phase('web-01', 'ready', 6));
    expect(fold.rows.get('web-01')).toMatchObject({ state: 'ready', startedAt: at(1), endedAt: at(6) });
  });
});

describe('when the log holds other events or VMs not in the plan', () => {
  it('leaves the rows as they were', () => {
    const fold = newFold(shape);
    applyEvent(fold, shape, phase('other-vm', 'ready', 1));
    applyEvent(
      fold,
      shape,
      JSON.stringify({
        v: 1,
        at: at(2),
        type: 'step-finished',
        execution: 'x',
        step: 'sql-01/failover',
        outcome: 'done',
      }),
    );
    applyEvent(fold, shape, 'not json');
    expect([...fold.rows.values()].map((r) => r.state)).toEqual(['waiting', 'waiting']);
    expect(fold.rows.has('other-vm')).toBe(false);
  });
});
