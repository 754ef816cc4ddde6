import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FAILURE_POLICY,
  DEFAULT_READINESS,
  formatIssue,
  loadPlanFile,
  PlanError,
  parsePlan,
  planHash,
} from '../../../engine/plan/index.ts';
import { useTempDirs } from '../../support/temp.ts';
import { issuesOf, planText, validPlan } from './helpers.ts';

const temp = useTempDirs();

describe('parsePlan', () => {
  describe('when the YAML is malformed', () => {
    it('returns a located syntax issue, never a throw', () => {
      const result = parsePlan('apiVersion: dr/v1\nkind: [\n', 'bad.yaml');
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.issues[0]).toMatchObject({ code: 'yaml-syntax', file: 'bad.yaml', line: 3, column: 1 });
    });

    it('reports duplicate keys as YAML errors', () => {
      const issues = issuesOf('apiVersion: dr/v1\napiVersion: dr/v1\n');
      expect(issues[0]).toMatchObject({ code: 'yaml-syntax', line: 2, column: 1 });
      expect(issues[0]?.message).toContain('unique');
    });

    it('treats an empty file as a plan with nothing in it', () => {
      expect(issuesOf('')[0]).toMatchObject({ code: 'invalid-type', line: 1, column: 1 });
    });
  });

  describe('when a required key is missing', () => {
    it('names the key and points at the mapping that lacks it', () => {
      const text =
        'apiVersion: dr/v1\nkind: RecoveryPlan\nmetadata: { name: x }\nspec:\n  source: a\n  vms: [{ name: v }]\n';
      expect(issuesOf(text)).toEqual([
        expect.objectContaining({
          code: 'missing-key',
          message: 'missing required key "target"',
          line: 5,
          column: 3,
          path: 'spec',
        }),
      ]);
    });
  });

  describe('when an enum value is misspelled', () => {
    it('lists the accepted values and suggests the closest', () => {
      const text = planText(
        '    - name: a',
        '  actions:\n    - { name: x, after: a, manual: m, on: [planed] }',
      );
      expect(issuesOf(text)[0]).toMatchObject({
        code: 'invalid-value',
        line: 10,
        hint: 'did you mean "planned"?',
      });
    });
  });

  describe('when the plan is valid', () => {
    it('fills every default the contract names', () => {
      const plan = validPlan(planText('    - name: a', '  actions:\n    - { name: x, after: a, script: s }'));
      expect(plan.recoveryPoint).toEqual({ kind: 'latest' });
      expect(plan.vms[0]).toMatchObject({
        readiness: DEFAULT_READINESS,
        onFailure: DEFAULT_FAILURE_POLICY,
        bootEstimateMs: 60_000,
      });
      expect(plan.actions[0]).toMatchObject({
        when: 'after',
        vm: 'a',
        run: { type: 'script', script: 's', runOn: 'control', args: {} },
        timeoutMs: 600_000,
        on: ['test', 'planned', 'unplanned'],
        directions: ['forward', 'failback'],
      });
      expect(plan.drill.maxDurationMs).toBe(24 * 3_600_000);
      expect(plan.fencing).toEqual({ deadlineMs: 60_000 });
      expect(plan.automaticFailover).toEqual({
        enabled: false,
        mode: 'failover',
        afterMs: 300_000,
        recoveryPoint: { kind: 'latest' },
        vetoMs: 0,
      });
    });

    it('expands readiness shorthand into checks, keeping the heartbeat unless switched off', () => {
      const plan = validPlan(
        planText(
          [
            '    - { name: a, readiness: { tcp: [1433, 1434], http: { port: 80 }, delay: 30s, timeout: 5m, onTimeout: warn } }',
            '    - { name: b, readiness: { heartbeat: false } }',
          ].join('\n'),
        ),
      );
      expect(plan.vms[0]?.readiness).toEqual({
        checks: [
          { kind: 'heartbeat' },
          { kind: 'tcp', port: 1433 },
          { kind: 'tcp', port: 1434 },
          { kind: 'http', port: 80, path: '/', expectStatus: 200 },
          { kind: 'delay', ms: 30_000 },
        ],
        timeoutMs: 300_000,
        onTimeout: 'warn',
      });
      expect(plan.vms[1]?.readiness.checks).toEqual([]);
    });

    it('normalizes runOn: the target site name and "target" both mean the site failed over to', () => {
      const plan = validPlan(
        planText(
          '    - name: a',
          '  actions:\n    - { name: x, after: a, script: s, runOn: dc-west }\n    - { name: y, after: a, script: s, runOn: target }',
        ),
      );
      expect(plan.actions.map((a) => (a.run.type === 'script' ? a.run.runOn : ''))).toEqual([
        'target',
        'target',
      ]);
    });

    it('reads a per-VM recovery point override and a point in time', () => {
      const plan = validPlan(
        planText(
          '    - { name: a, recoveryPoint: { at: "2026-03-01T02:00:00Z" } }',
          '  recoveryPoint: latestAppConsistent',
        ),
      );
      expect(plan.recoveryPoint).toEqual({ kind: 'latestAppConsistent' });
      expect(plan.vms[0]?.recoveryPoint).toEqual({ kind: 'at', at: '2026-03-01T02:00:00Z' });
    });

    it('applies spec.defaults to every VM', () => {
      const plan = validPlan(
        planText(
          '    - name: a\n    - { name: b, bootEstimate: 3m }',
          '  defaults: { bootEstimate: 2m, onFailure: { then: pause } }',
        ),
      );
      expect(plan.vms.map((vm) => vm.bootEstimateMs)).toEqual([120_000, 180_000]);
      expect(plan.vms[0]?.onFailure).toEqual({ ...DEFAULT_FAILURE_POLICY, outcome: 'pause' });
    });
  });

  describe('the content hash', () => {
    const text = planText('    - { name: a }\n    - { name: b, dependsOn: [a] }');

    it('ignores comments, layout and spelled-out defaults', () => {
      const a = parsePlan(text, 'a.yaml');
      const reformatted = `# a comment\n${text.replace('    - { name: a }', '    - name: a     # the database\n      bootEstimate: 1m')}`;
      const b = parsePlan(reformatted, 'b.yaml');
      expect(a.ok && b.ok && a.hash === b.hash).toBe(true);
    });

    it('changes when what a run would do changes', () => {
      const a = parsePlan(text, 'a.yaml');
      const b = parsePlan(text.replace('dependsOn: [a]', 'dependsOn: []'), 'b.yaml');
      expect(a.ok && b.ok && a.hash !== b.hash).toBe(true);
    });
  });
});

describe('loadPlanFile', () => {
  it('reports a missing file as an issue, not a throw', async () => {
    const result = await loadPlanFile('/nonexistent/plan.yaml');
    expect(result).toEqual({
      ok: false,
      issues: [
        expect.objectContaining({
          code: 'file-unreadable',
          file: '/nonexistent/plan.yaml',
          line: 1,
          column: 1,
        }),
      ],
    });
  });

  it('names the file in every issue', async () => {
    const dir = temp('plan-');
    const file = join(dir, 'p.yaml');
    await writeFile(file, planText('    - { name: a, dependsOn: [b] }'));
    const result = await loadPlanFile(file);
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(formatIssue(result.issues[0]!)).toBe(
        `${file}:8:30: error: "a" depends on unknown VM "b" [spec.vms[0].dependsOn[0]]`,
      );
  });
});

describe('PlanError', () => {
  it('is bad input (exit 2) and carries every issue', () => {
    const issues = issuesOf(planText('    - { name: a, dependsOn: [b, c] }'));
    const error = new PlanError(issues);
    expect(error.exitCode).toBe(2);
    expect(error.retryable).toBe(false);
    expect(error.issues).toHaveLength(2);
    expect(error.message).toContain('2 error(s)');
  });
});

describe('warnings', () => {
  it('flags a readiness timeout shorter than the boot estimate, and the plan stays valid', () => {
    const result = parsePlan(
      planText('    - { name: a, bootEstimate: 15m, readiness: { timeout: 10m } }'),
      'plan.yaml',
    );
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.warnings).toEqual([
        expect.objectContaining({
          code: 'readiness-before-boot',
          severity: 'warning',
          line: 8,
          path: 'spec.vms[0].readiness',
        }),
      ]);
    }
  });

  it('flags a manual step automatic failover would wait on, and a failover with no bound on data loss', () => {
    const text = planText(
      '    - name: a',
      '  actions:\n    - { name: call, before: a, manual: Call the CIO }\n  automaticFailover: { enabled: true, after: 5m }',
    );
    const result = parsePlan(text, 'plan.yaml');
    expect(result.ok && result.warnings.map((w) => `${w.line} ${w.code}`)).toEqual([
      '10 auto-failover-manual-step',
      '11 auto-failover-not-armed',
      '11 auto-failover-unbounded-loss',
    ]);
  });

  // Issue 13: the witness is no longer optional, so the setting that turned it off is refused where it is.
  it('refuses requireWitness with its place and what to do', () => {
    const text = planText('    - name: a', '  automaticFailover: { enabled: true, requireWitness: false }');
    const issues = issuesOf(text);
    expect(issues.map((i) => `${i.line}:${i.column} ${i.path}`)).toEqual([
      expect.stringMatching(/^9:\d+ spec\.automaticFailover\.requireWitness$/),
    ]);
    expect(issues[0]?.message).toContain('remove this line');
  });

  it('reads the policy: mode, recovery point, the data-loss bound (targets.rpo by default) and the veto window', () => {
    const plan = validPlan(
      planText(
        '    - name: a',
        '  targets: { rpo: 15m }\n  recoveryPoint: latestAppConsistent\n  automaticFailover: { enabled: true, mode: notify-only, veto: 2m }',
      ),
    );
    expect(plan.automaticFailover).toEqual({
      enabled: true,
      mode: 'notify-only',
      afterMs: 300_000,
      recoveryPoint: { kind: 'latestAppConsistent' },
      maxDataLossMs: 900_000,
      vetoMs: 120_000,
    });
    const own = validPlan(
      planText(
        '    - name: a',
        '  targets: { rpo: 15m }\n  automaticFailover: { enabled: true, maxDataLoss: 30s, recoveryPoint: latest }',
      ),
    );
    expect(own.automaticFailover).toMatchObject({ maxDataLossMs: 30_000, recoveryPoint: { kind: 'latest' } });
  });

  // Regression (issue 10): `automaticFailover: { enabled: true }` validated and did nothing, so a
  // plan read as protecting itself when no part of the engine fails over by itself.
  it('says automaticFailover needs arming, located at spec.automaticFailover', () => {
    const text = planText('    - name: a', '  automaticFailover: { enabled: true, maxDataLoss: 5m }');
    const result = parsePlan(text, 'plan.yaml');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.warnings).toEqual([
      expect.objectContaining({
        code: 'auto-failover-not-armed',
        severity: 'warning',
        path: 'spec.automaticFailover',
        line: 9,
        message:
          'automaticFailover takes effect only once an admin arms the plan on the control plane: until `drctl auto arm` it never fails over by itself',
      }),
    ]);
  });

  it('says nothing of automaticFailover when it is off (the plan does what it says)', () => {
    const text = planText('    - name: a', '  automaticFailover: { enabled: false }');
    const result = parsePlan(text, 'plan.yaml');
    expect(result.ok && result.warnings).toEqual([]);
  });
});

describe('when a value may take several shapes', () => {
  it('reports the inner problem of the shape it has, not "invalid value"', () => {
    const text = planText(
      [
        '    - { name: a, network: { failover: { network: x, ip: 10.0.0.300 } } }',
        '    - { name: b, readiness: { tcp: [80, "x"] } }',
        '    - { name: c, recoveryPoint: { att: "2026-01-01T00:00:00Z" } }',
      ].join('\n'),
    );
    expect(issuesOf(text).map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual([
      '8 spec.vms[0].network.failover.ip: invalid IP address: "10.0.0.300"',
      '9 spec.vms[1].readiness.tcp[1]: expected number, got "x"',
      '10 spec.vms[2].recoveryPoint: missing required key "at"',
      '10 spec.vms[2].recoveryPoint.att: unknown key "att"',
    ]);
  });
});

describe('the plan shape in DESIGN.md', () => {
  it('validates as written there', () => {
    const text = `apiVersion: dr/v1
kind: RecoveryPlan
metadata: { name: erp }
spec:
  source: dc-east
  target: dc-west
  recoveryPoint: latest            # latest | latestProcessed | latestAppConsistent | { at: <time> }
  vms:
    - name: sql-01
      readiness: { heartbeat: true, timeout: 10m }
    - { name: app-01, dependsOn: [sql-01] }
    - { name: app-02, dependsOn: [sql-01] }
    - { name: web-01, dependsOn: [app-01, app-02], network: { failover: dmz-west, test: drill-net } }
  actions:
    - { name: confirm-san, before: sql-01, manual: "Confirm SAN replication is paused" }
    - { name: update-dns, after: web-01, script: update-dns, runOn: dc-west, timeout: 2m,
        on: [planned, unplanned] }        # scripts are named entries of the engine's catalog
  automaticFailover: { enabled: false }
`;
    const plan = validPlan(text);
    expect(plan.vms.map((vm) => vm.name)).toEqual(['sql-01', 'app-01', 'app-02', 'web-01']);
    expect(plan.actions[1]).toMatchObject({
      run: { type: 'script', runOn: 'target' },
      timeoutMs: 120_000,
      on: ['planned', 'unplanned'],
    });
  });
});

describe('when a mapping is used as a key', () => {
  it('reports it at the key instead of letting yaml stringify it', () => {
    expect(issuesOf('a: 1\n{ tcp: [53] }: x\n')).toEqual([
      expect.objectContaining({
        code: 'yaml-syntax',
        line: 2,
        column: 1,
        message: 'a mapping or list is used as a key',
      }),
    ]);
  });

  describe('the fencing deadline (unplanned failover)', () => {
    it('reads it as a duration, and the hash changes only when it is not the default', () => {
      const base = validPlan(planText('    - name: a'));
      const spelled = validPlan(planText('    - name: a', '  fencing: { deadline: 60s }'));
      const short = validPlan(planText('    - name: a', '  fencing: { deadline: 5s }'));
      expect(short.fencing).toEqual({ deadlineMs: 5_000 });
      expect(planHash(spelled)).toBe(planHash(base));
      expect(planHash(short)).not.toBe(planHash(base));
    });

    it.each(['0s', '500ms', '2h'])('refuses %s at its line and column', (deadline) => {
      const issues = issuesOf(planText('    - name: a', `  fencing: { deadline: ${deadline} }`));
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({
        path: 'spec.fencing.deadline',
        line: 9,
        column: 24,
        message: expect.stringContaining('between 1s and 1h'),
      });
    });
  });
});
