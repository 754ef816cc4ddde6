/** The automation's decision for one plan of a lost site (engine/control/auto decide.ts): pure. */
import { describe, expect, it } from 'vitest';
import { type GuardReport, guardVerdict } from '../../engine/control/auto/guards.ts';
import { type ArmRecord, decideAutoFailover } from '../../engine/control/auto/index.ts';
import type { AutomaticFailoverPolicy } from '../../engine/plan/types.ts';

const policy: AutomaticFailoverPolicy = {
  enabled: true,
  mode: 'failover',
  afterMs: 300_000,
  recoveryPoint: { kind: 'latest' },
  maxDataLossMs: 900_000,
  vetoMs: 0,
};
const arm: ArmRecord = {
  plan: 'erp',
  hash: 'h1',
  site: 'dc-east',
  armedBy: 'alice',
  armedAt: '2026-01-01T00:00:00Z',
  armId: 'a1',
};
const base = {
  policy,
  arm,
  hash: 'h1',
  dataLossWindowMs: 60_000,
  drill: false,
  guard: { working: true as const },
};

describe('deciding an automatic failover', () => {
  it('fails an armed plan over within its maxDataLoss', () => {
    expect(decideAutoFailover(base)).toEqual({ kind: 'failover' });
  });
  it('refuses beyond maxDataLoss, with the window and the bound in its reason', () => {
    const decision = decideAutoFailover({ ...base, dataLossWindowMs: 901_000 });
    expect(decision).toMatchObject({ kind: 'refuse', code: 'BEYOND_MAX_DATA_LOSS' });
    expect(decision.kind === 'refuse' && decision.reason).toContain('901 s, beyond maxDataLoss 900 s');
  });
  it('refuses when a VM has no recovery point, or no bound is set', () => {
    const { dataLossWindowMs: _, ...unknown } = base;
    expect(decideAutoFailover(unknown)).toMatchObject({ code: 'NO_RECOVERY_POINT' });
    const { maxDataLossMs: __, ...unbounded } = policy;
    expect(decideAutoFailover({ ...base, policy: unbounded })).toMatchObject({ code: 'NO_DATA_LOSS_BOUND' });
  });
  it('ignores an unarmed or disabled plan', () => {
    const { arm: _, ...unarmed } = base;
    expect(decideAutoFailover(unarmed).kind).toBe('ignore');
    expect(decideAutoFailover({ ...base, policy: { ...policy, enabled: false } }).kind).toBe('ignore');
  });
  it('only notifies in notify-only mode, in maintenance, and once the arming is spent', () => {
    expect(decideAutoFailover({ ...base, policy: { ...policy, mode: 'notify-only' } }).kind).toBe('notify');
    expect(decideAutoFailover({ ...base, maintenance: { until: 'x', by: 'bob' } }).kind).toBe('notify');
    expect(
      decideAutoFailover({ ...base, arm: { ...arm, spent: { execution: 'unplanned-1', at: 'x' } } }),
    ).toMatchObject({ kind: 'notify', why: expect.stringContaining('unplanned-1') });
  });
  it('refuses a newer plan version than the one armed', () => {
    expect(decideAutoFailover({ ...base, hash: 'h2' })).toMatchObject({ code: 'ARMED_VERSION_REPLACED' });
  });
  it('drills without an arming, spent or not, and through maintenance', () => {
    const { arm: _, ...unarmed } = base;
    expect(decideAutoFailover({ ...unarmed, drill: true, maintenance: { until: 'x', by: 'b' } })).toEqual({
      kind: 'failover',
    });
  });

  it('refuses without a working guard, naming why, and a drill does not need one', () => {
    const { guard: _, ...unjudged } = base;
    expect(decideAutoFailover(unjudged)).toMatchObject({ kind: 'refuse', code: 'NO_WORKING_GUARD' });
    const decision = decideAutoFailover({
      ...base,
      guard: { working: false, why: 'no armed guard holds erp-01' },
    });
    expect(decision).toMatchObject({ kind: 'refuse', code: 'NO_WORKING_GUARD' });
    expect(decision.kind === 'refuse' && decision.reason).toContain('no working guard');
    expect(decision.kind === 'refuse' && decision.reason).toContain('erp-01');
    expect(decideAutoFailover({ ...unjudged, drill: true })).toEqual({ kind: 'failover' });
    // Notify-only and spent still only notify: nothing would be started either way.
    expect(decideAutoFailover({ ...unjudged, policy: { ...policy, mode: 'notify-only' } })).toMatchObject({
      kind: 'notify',
    });
  });
});

describe('judging the hosts guards at a loss', () => {
  const at = Date.parse('2026-01-01T00:10:00Z');
  const report = (hosts: GuardReport['hosts'], when = '2026-01-01T00:09:59Z'): GuardReport => ({
    site: 'dc-east',
    at: when,
    armedVms: ['a', 'b'],
    hosts,
  });
  it('works when every VM is held by an armed guard that reported no error', () => {
    const hosts = [
      { host: 'h1', armed: true, vms: ['a'] },
      { host: 'h2', armed: true, vms: ['b'] },
    ];
    expect(guardVerdict(report(hosts), ['a', 'b'], at, 3000)).toEqual({ working: true });
  });
  it('does not when a host failing, unarmed, missing or the report stale', () => {
    const failing = [
      { host: 'h1', armed: true, vms: ['a'] },
      { host: 'h2', armed: true, vms: ['b'], lastError: 'HOST_DOWN: host h2 is down' },
    ];
    const f = guardVerdict(report(failing), ['a', 'b'], at, 3000);
    expect(f).toMatchObject({ working: false });
    expect(!f.working && f.why).toContain('b (failing: h2: HOST_DOWN');
    expect(
      guardVerdict(report([{ host: 'h1', armed: false, vms: ['a', 'b'] }]), ['a'], at, 3000),
    ).toMatchObject({
      working: false,
    });
    expect(guardVerdict(report(null), ['a'], at, 3000)).toMatchObject({ working: false });
    expect(guardVerdict(undefined, ['a'], at, 3000)).toMatchObject({ working: false });
    const stale = guardVerdict(
      report([{ host: 'h1', armed: true, vms: ['a'] }], '2026-01-01T00:09:00Z'),
      ['a'],
      at,
      3000,
    );
    expect(!stale.working && stale.why).toContain('older than');
  });
});
