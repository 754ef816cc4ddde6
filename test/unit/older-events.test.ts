import { describe, expect, it } from 'vitest';
import { parseEventEntry } from '../../engine/executor/index.ts';
import { timelineLine } from '../../engine/report/index.ts';

describe('an event log written by an older drctl', () => {
  // Before the engine claimed data loss itself (issue 10), its data-loss event carried the
  // simulator's write counts; `drctl events` on such an execution stopped at EVENT_UNKNOWN_SCHEMA.
  const old = {
    v: 1,
    at: '2026-11-20T10:00:05.000Z',
    type: 'data-loss',
    execution: 'unplanned-1',
    vms: [{ vm: 'sql-01', lostWrites: 120, recoveryPoint: '2026-11-20T09:59:30.000Z', windowMs: 35_000 }],
    totalLostWrites: 120,
  };

  it('reads its data-loss event as what it was: ledger counts, not a claim', () => {
    const stored = parseEventEntry('unplanned-1', '1-0', ['e', JSON.stringify(old)]);
    expect(stored.event).toMatchObject({ type: 'ledger-data-loss', totalLostWrites: 120 });
    expect(timelineLine(stored, Date.parse('2026-11-20T10:00:00.000Z'))).toContain(
      "data loss (write counts an older release took from the simulator's ledger): 120 writes (sql-01 120)",
    );
  });

  it('still refuses a shape no drctl ever wrote, naming the event', () => {
    const broken = { ...old, totalLostWrites: undefined, vms: 'x' };
    expect(() => parseEventEntry('unplanned-1', '2-0', ['e', JSON.stringify(broken)])).toThrow(
      /event 2-0 of execution unplanned-1 does not match event schema v1/,
    );
  });
});
