import { describe, expect, it } from 'vitest';
import { DrError } from '../../engine/common/index.ts';
import {
  evaluatePreflight,
  formatPreflightReport,
  preflightBlockedError,
  preflightSummaryLine,
} from '../../engine/preflight/index.ts';
import { host, latestPoint, makeInventory, makePlan, replica } from './fixtures.ts';

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
    // The estimate comes from the plan's step estimates: simulated time, and it says so.
    expect(text).toContain("estimated RTO: 7m simulated (the plan's step estimates), target 1h");
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
    expect(text).toContain('age (simulated)');
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
    expect(text).toMatch(/age \(simulated\) {2}data loss/);
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

  describe('when the VMs would land at different times (issue 10: the spread showed only after go)', () => {
    const twoVms = makePlan([{ name: 'sql-01' }, { name: 'web-01' }]);
    const inventory = makeInventory({
      vms: [replica('sql-01'), replica('web-01')],
      // sql-01's replication fell behind on a throttled link: its newest data is 4 minutes old.
      points: { 'sql-01': [latestPoint('sql-01', 240_000)], 'web-01': [latestPoint('web-01', 10_000)] },
    });

    it('shows the oldest, the newest and the spread of the recovery points in the dry run', () => {
      const report = evaluatePreflight(twoVms, inventory, { type: 'unplanned' });
      expect(report.recoveryPointSpread).toEqual({
        vms: 2,
        oldest: '2026-01-01T11:56:00.000Z',
        oldestVm: 'sql-01',
        newest: '2026-01-01T11:59:50.000Z',
        newestVm: 'web-01',
        spreadMs: 230_000,
        approximate: false,
      });
      const text = formatPreflightReport(report, { placements: true });
      expect(text).toContain(
        'recovery points: oldest 2026-01-01T11:56:00.000Z (sql-01), newest 2026-01-01T11:59:50.000Z (web-01), spread 3m 50s simulated over 2 VM(s)',
      );
      expect(preflightSummaryLine(report)).toContain('recovery points 3m 50s apart (simulated)');
    });

    it('shows it for a drill too, and says a planned failover has none', () => {
      expect(evaluatePreflight(twoVms, inventory, { type: 'test' }).recoveryPointSpread?.spreadMs).toBe(
        230_000,
      );
      const planned = evaluatePreflight(twoVms, inventory, { type: 'planned' });
      expect(planned.recoveryPointSpread).toBeUndefined();
      expect(formatPreflightReport(planned)).toContain(
        'recovery points: a planned failover replicates every VM up to its shutdown (no spread)',
      );
    });
  });
});
