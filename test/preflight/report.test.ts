import { describe, expect, it } from 'vitest';
import { DrError } from '../../engine/common/index.ts';
import {
  evaluatePreflight,
  formatPreflightReport,
  preflightBlockedError,
} from '../../engine/preflight/index.ts';
import { host, makeInventory, makePlan, replica } from './fixtures.ts';

const plan = makePlan(
  [{ name: 'sql-01' }, { name: 'web-01', dependsOn: ['sql-01'], network: { failover: { network: 'dmz' } } }],
  {
    targets: { rtoMs: 3_600_000 },
  },
);

describe('the pre-flight report as text', () => {
  it('lists each blocker compiler-style with its location, and says nothing was started', () => {
    const report = evaluatePreflight(plan, makeInventory({ vms: [replica('sql-01'), replica('web-01')] }), {
      type: 'unplanned',
      locate: (path) => (path === 'spec.vms[1].network.failover' ? { line: 12, column: 27 } : undefined),
      estimateRtoMs: 420_000,
    });
    const text = formatPreflightReport(report, { file: 'plans/erp.yaml' });
    expect(text).toContain(
      "plans/erp.yaml:12:27: blocker NETWORK_MISSING: network 'dmz' does not exist at site 'dc-west' [spec.vms[1].network.failover]",
    );
    expect(text).toContain('estimated RTO: 7m (target 1h)');
    expect(text).toContain('BLOCKED: 1 blocker(s); nothing was started');
  });

  it('shows where each VM would run and on which point for --dry-run', () => {
    const report = evaluatePreflight(
      makePlan([{ name: 'sql-01' }]),
      makeInventory({ vms: [replica('sql-01', { host: 'hv-west-07' })], hosts: [host('hv-west-07')] }),
      { type: 'test' },
    );
    const text = formatPreflightReport(report, { placements: true });
    expect(text).toMatch(/sql-01\s+hv-west-07\s+dc-west\.sql-01\.latest @ 2026-01-01T11:59:00\.000Z\s+1m/);
    expect(text).toContain('ok: no blocker');
  });

  it('shows the data loss an unplanned failover would claim, to when the primary was last seen', () => {
    const report = evaluatePreflight(
      makePlan([{ name: 'sql-01' }]),
      makeInventory({ vms: [replica('sql-01', { host: 'hv-west-07' })], hosts: [host('hv-west-07')] }),
      { type: 'unplanned' },
    );
    expect(report.placements[0]?.recoveryPoint?.loss).toMatchObject({ ms: 0, bound: 'atLeast' });
    const text = formatPreflightReport(report, { placements: true });
    expect(text).toMatch(/age {8}data loss/);
    expect(text).toMatch(/dc-west\.sql-01\.latest @ 2026-01-01T11:59:00\.000Z\s+1m\s+>= 0s/);
  });

  it('turns blockers into a typed error for the orchestrator', () => {
    const report = evaluatePreflight(plan, makeInventory({ vms: [replica('sql-01')] }), { type: 'planned' });
    const error = preflightBlockedError(report, 'erp.yaml');
    expect(error).toBeInstanceOf(DrError);
    expect(error.code).toBe('PREFLIGHT_BLOCKED');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('VM_NOT_FOUND');
  });
});
