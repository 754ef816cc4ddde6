/**
 * The report's pure part on hand-made logs: how each error was resolved (a later attempt, an
 * operator's skip or done, nothing), a failover's data-loss claim judged against the RPO, and the
 * verdict of a run that never reached its end. The drill path runs for real in test/report.
 */
import { describe, expect, it } from 'vitest';
import { type ExecutionRecord, parseEventEntry, type StoredEvent } from '../../engine/executor/index.ts';
import { loadPlanFile } from '../../engine/plan/index.ts';
import {
  buildReport,
  executionReportSchema,
  judge,
  overall,
  renderReportHtml,
} from '../../engine/report/index.ts';

const AT = '2026-12-01T10:00:00.000Z';
const at = (s: number) => new Date(Date.parse(AT) + s * 1000).toISOString();
const err = (code: string) => ({ code, message: `${code} <b>happened</b>`, retryable: true });

/** Events as the log stores them, each checked against the event schema (parseEventEntry). */
function log(events: Record<string, unknown>[]): StoredEvent[] {
  return events.map((e, i) =>
    parseEventEntry('x1', `${i + 1}-0`, ['e', JSON.stringify({ v: 1, execution: 'x1', ...e })]),
  );
}

const finished = (step: string, s: number, outcome: string, attempt: number, extra: object = {}) => ({
  at: at(s),
  type: 'step-finished',
  step,
  site: 'dc-west',
  outcome,
  attempt,
  ...extra,
});

async function plan() {
  const loaded = await loadPlanFile('plans/examples/three-tier.yaml');
  if (!loaded.ok) throw new Error('three-tier.yaml does not load');
  return loaded.plan;
}

function record(overrides: Partial<ExecutionRecord> = {}): ExecutionRecord {
  return {
    id: 'x1',
    type: 'unplanned',
    direction: 'forward',
    planName: 'erp',
    hash: 'h',
    by: 'ops',
    reason: 'site lost',
    epoch: 3,
    createdAt: AT,
    status: 'completed',
    stepsTotal: 10,
    stepsDone: 10,
    rtoMs: 600_000,
    ...overrides,
  };
}

describe('the errors of a run and how they ended', () => {
  it('names a retry that worked, an operator skip and done, and one left failed', async () => {
    const events = log([
      finished('sql-01/boot', 1, 'failed', 1, { error: err('HOST_BOOT_LIMIT') }),
      finished('sql-01/boot', 5, 'done', 2),
      finished('app-01/readiness', 6, 'failed', 1, { error: err('READINESS_TIMEOUT') }),
      {
        at: at(7),
        type: 'operator-action',
        step: 'app-01/readiness',
        command: 'skip',
        by: 'carol',
        reason: 'app team checked by hand',
        givenAt: at(7),
        accepted: true,
        attempt: 1,
      },
      finished('app-01/readiness', 7, 'skipped', 1, { output: { operator: { command: 'skip' } } }),
      finished('action/notify-oncall', 8, 'failed', 1, { error: err('WEBHOOK_FAILED') }),
      {
        at: at(8),
        type: 'step-paused',
        step: 'action/notify-oncall',
        site: 'control',
        attempt: 1,
        error: err('WEBHOOK_FAILED'),
      },
      {
        at: at(9),
        type: 'operator-action',
        step: 'action/notify-oncall',
        command: 'done',
        by: 'dave',
        reason: 'paged by phone',
        givenAt: at(9),
        accepted: true,
        attempt: 1,
      },
      finished('web-01/failover', 10, 'failed', 1, { error: err('INVALID_STATE') }),
      finished('app-02/readiness', 11, 'warned', 1, { error: err('READINESS_TIMEOUT') }),
    ]);
    const report = buildReport({ record: record({ status: 'failed' }), plan: await plan(), events, now: 0 });
    const rows = report.errors.map((e) => [e.step, e.code, e.resolution, e.resolvedBy ?? '-']);
    expect(rows).toEqual([
      ['sql-01/boot', 'HOST_BOOT_LIMIT', 'retried-ok', '-'],
      ['app-01/readiness', 'READINESS_TIMEOUT', 'skipped', 'carol'],
      ['action/notify-oncall', 'WEBHOOK_FAILED', 'marked-done', 'dave'],
      ['web-01/failover', 'INVALID_STATE', 'unresolved', '-'],
      ['app-02/readiness', 'READINESS_TIMEOUT', 'continued', '-'],
    ]);
    expect(report.actions.find((a) => a.action === 'notify-oncall')?.kind).toBe('webhook');
    expect(executionReportSchema.safeParse(report).success).toBe(true);
    const html = renderReportHtml(report);
    expect(html).toContain('HOST_BOOT_LIMIT &lt;b&gt;happened&lt;/b&gt;');
    expect(html).not.toContain('<b>happened');
  });
});

describe('approvals', () => {
  it('names the submitter of a run whose manual actions were pre-approved (--approve-manual)', async () => {
    const events = log([
      finished('action/confirm-san', 1, 'done', 1, {
        output: { approvedBy: 'submitter (manual actions pre-approved)' },
      }),
    ]);
    const report = buildReport({ record: record(), plan: await plan(), events, now: 0 });
    expect(report.approvals).toEqual([
      expect.objectContaining({
        step: 'action/confirm-san',
        by: 'ops (pre-approved at submit)',
        accepted: true,
      }),
    ]);
    expect(report.actions.map((a) => `${a.action} ${a.kind} ${a.outcome}`)).toEqual([
      'confirm-san manual done',
    ]);
  });
});

describe("a failover's data loss against the RPO", () => {
  it('fails the VM whose claimed window is wider than the target, and the run with it', async () => {
    const claim = (vm: string, windowMs: number) => ({
      vm,
      recoveryPointTime: AT,
      windowStart: AT,
      windowEnd: new Date(Date.parse(AT) + windowMs).toISOString(),
      windowMs,
      bound: 'atLeast' as const,
      basis: 'site lost',
    });
    const events = log([{ at: at(60), type: 'vm-phase', vm: 'sql-01', site: 'dc-west', phase: 'ready' }]);
    const report = buildReport({
      record: record({ dataLoss: [claim('sql-01', 60_000), claim('web-01', 400_000)] }),
      plan: await plan(), // targets: rto 15m, rpo 5m
      events,
      now: 0,
    });
    expect(report.objectives.rto).toEqual({ targetMs: 900_000, achievedMs: 600_000, verdict: 'pass' });
    expect(report.objectives.rpo).toEqual({ targetMs: 300_000, achievedMs: 400_000, verdict: 'fail' });
    expect(report.objectives.verdict).toBe('fail');
    const vm = (name: string) => report.vms.find((v) => v.vm === name);
    expect(vm('sql-01')?.rpo.verdict).toBe('pass');
    expect(vm('sql-01')?.rto).toEqual({ targetMs: 900_000, achievedMs: 60_000, verdict: 'pass' });
    expect(vm('web-01')?.rpo.verdict).toBe('fail');
    // A VM never ready has no RTO of its own: not measured against its target.
    expect(vm('web-01')?.rto.verdict).toBe('not-measured');
  });

  it('a run that never reached its end is not measured, not passed', async () => {
    const report = buildReport({
      record: record({ status: 'failed', rtoMs: undefined }),
      plan: await plan(),
      events: [],
      now: 0,
    });
    expect(report.objectives.rto.verdict).toBe('not-measured');
    expect(report.objectives.verdict).toBe('not-measured');
  });
});

describe('verdicts', () => {
  it('at or under the target passes; no target is no verdict; any fail fails', () => {
    expect(judge(1000, 1000).verdict).toBe('pass');
    expect(judge(1000, 1001).verdict).toBe('fail');
    expect(judge(undefined, 5).verdict).toBe('no-target');
    expect(judge(1000, undefined).verdict).toBe('not-measured');
    expect(overall('pass', 'no-target')).toBe('pass');
    expect(overall('pass', 'fail', 'not-measured')).toBe('fail');
    expect(overall('no-target', 'no-target')).toBe('no-target');
  });
});
