import { describe, expect, it } from 'vitest';
import { cancelIncomplete, cancelOutcome } from '../../engine/executor/orchestrator/cancel-outcome.ts';
import { skipReason } from '../../engine/executor/orchestrator/conditional-steps.ts';
import type { PlanStep } from '../../engine/plan/types.ts';

const step = (over: Partial<PlanStep>): PlanStep => ({
  id: 'x',
  kind: 'return',
  site: 'dc-west',
  estimateMs: 0,
  after: [],
  before: [],
  ...over,
});

describe('conditional steps of a cancel', () => {
  const states: Record<string, string> = { db: 'rolledBack', app: 'unrestored' };
  const stateOf = (vm: string): string => states[vm] ?? 'failedOver';

  it('runs a VM’s return only when its restore found no source', () => {
    const ctx = { type: 'cancel' as const };
    expect(
      skipReason(ctx, step({ id: 'app/return', vm: 'app' }), stateOf, () => ['db', 'app']),
    ).toBeUndefined();
    expect(skipReason(ctx, step({ id: 'db/return', vm: 'db' }), stateOf, () => ['db', 'app'])).toMatch(
      /restarted/,
    );
  });

  it('skips the undo of a before action while a VM is back at the recovery site, and says which', () => {
    const undo = step({ id: 'action/san/undo', kind: 'action', action: 'san', after: ['barrier/restored'] });
    expect(skipReason({ type: 'cancel' }, undo, stateOf, () => ['db', 'app'])).toMatch(
      /app runs at the recovery site/,
    );
    expect(
      skipReason(
        { type: 'cancel' },
        undo,
        () => 'rolledBack',
        () => ['db', 'app'],
      ),
    ).toBeUndefined();
    // Undo of an `after` action (before the reverts): never held back.
    const after = step({ id: 'action/dns/undo', kind: 'action', action: 'dns', after: [] });
    expect(skipReason({ type: 'cancel' }, after, stateOf, () => ['db', 'app'])).toBeUndefined();
  });

  it('decides nothing outside a cancel', () => {
    expect(skipReason({ type: 'planned' }, step({ vm: 'db' }), stateOf, () => ['db'])).toBeUndefined();
  });
});

describe('the end of a cancel that returned VMs', () => {
  const sites = { fromSite: 'dc-east', toSite: 'dc-west' };

  it('names where each VM is and what to do', () => {
    const outcome = cancelOutcome([
      { name: 'db', state: 'rolledBack' },
      { name: 'app', state: 'returned' },
      { name: 'web', state: 'failed' },
    ]);
    expect(outcome).toEqual({ home: ['db'], returned: ['app'], other: ['web'] });
    const error = cancelIncomplete(outcome, 'f1', sites);
    expect(error).toContain('app runs at dc-west again');
    expect(error).toContain('db back at dc-east');
    expect(error).toContain('web: a step failed, see `drctl status f1`');
    expect(error).toContain('`drctl cancel f1` again');
    expect(error).toContain('`drctl commit f1`');
  });

  it('is no error when every VM came home', () => {
    expect(
      cancelIncomplete(cancelOutcome([{ name: 'db', state: 'rolledBack' }]), 'f1', sites),
    ).toBeUndefined();
  });
});
