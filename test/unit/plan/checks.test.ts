import { describe, expect, it } from 'vitest';
import { parsePlan } from '../../../engine/plan/index.ts';
import { columnOf, issuesOf, planText } from './helpers.ts';

describe('semantic checks', () => {
  describe('when a dependency cycle exists', () => {
    const text = planText(
      [
        '    - { name: a, dependsOn: [c] }',
        '    - { name: b, dependsOn: [a] }',
        '    - { name: c, dependsOn: [b] }',
      ].join('\n'),
    );

    it('prints the cycle as a → c → b → a', () => {
      const [issue] = issuesOf(text);
      expect(issue).toMatchObject({ code: 'dependency-cycle', message: 'dependency cycle: a → c → b → a' });
    });

    it('points at the dependsOn entry that starts the cycle', () => {
      const [issue] = issuesOf(text);
      expect(issue).toMatchObject({ line: 8, column: 30, path: 'spec.vms[0].dependsOn[0]' });
      expect(issue?.column).toBe(columnOf(text, 8, 'c]'));
    });

    it('reports a VM that depends on itself as a one-step cycle', () => {
      const issues = issuesOf(planText('    - { name: a, dependsOn: [a] }'));
      expect(issues.map((i) => i.message)).toEqual(['dependency cycle: a → a']);
    });

    it('reports each independent cycle once', () => {
      const issues = issuesOf(
        planText(
          [
            '    - { name: a, dependsOn: [b] }',
            '    - { name: b, dependsOn: [a] }',
            '    - { name: x, dependsOn: [y] }',
            '    - { name: y, dependsOn: [x] }',
          ].join('\n'),
        ),
      );
      expect(issues.map((i) => `${i.line}: ${i.message}`)).toEqual([
        '8: dependency cycle: a → b → a',
        '10: dependency cycle: x → y → x',
      ]);
    });
  });

  describe('when dependsOn names an unknown VM', () => {
    it('reports it at the entry with a suggestion', () => {
      const text = planText(
        ['    - name: sql-01', '    - name: app-01', '      dependsOn: [sql-1]'].join('\n'),
      );
      expect(issuesOf(text)).toEqual([
        expect.objectContaining({
          code: 'unknown-vm',
          line: 10,
          column: 19,
          path: 'spec.vms[1].dependsOn[0]',
          hint: 'did you mean "sql-01"?',
        }),
      ]);
    });
  });

  describe('when two VMs share a name', () => {
    it('reports the second one and where the first is', () => {
      const text = planText(['    - name: web', '    - name: web'].join('\n'));
      expect(issuesOf(text)).toEqual([
        expect.objectContaining({
          code: 'duplicate-name',
          line: 9,
          column: 13,
          message: 'duplicate VM "web" (first at spec.vms[0])',
        }),
      ]);
    });

    it('also refuses a group named like a VM', () => {
      const text = planText('    - name: web', '  groups:\n    - { name: web, vms: [web] }');
      expect(issuesOf(text)).toEqual([
        expect.objectContaining({ code: 'duplicate-name', line: 10, column: 15 }),
      ]);
    });
  });

  describe('when groups are used', () => {
    it('reports an unknown VM in a group with a suggestion', () => {
      const text = planText('    - name: sql-01', '  groups:\n    - { name: db, vms: [sql-1] }');
      expect(issuesOf(text)).toEqual([
        expect.objectContaining({
          code: 'unknown-vm',
          line: 10,
          column: columnOf(text, 10, 'sql-1'),
          path: 'spec.groups[0].vms[0]',
          hint: 'did you mean "sql-01"?',
        }),
      ]);
    });

    it('reports a VM listed in two groups', () => {
      const text = planText(
        '    - name: a',
        '  groups:\n    - { name: one, vms: [a] }\n    - { name: two, vms: [a] }',
      );
      expect(issuesOf(text)).toEqual([
        expect.objectContaining({
          code: 'duplicate-group-member',
          line: 11,
          column: columnOf(text, 11, 'a]'),
        }),
      ]);
    });

    it('reports group order that contradicts dependsOn', () => {
      const text = planText(
        ['    - { name: app, dependsOn: [sql] }', '    - { name: sql }'].join('\n'),
        '  groups:\n    - { name: first, vms: [app] }\n    - { name: second, vms: [sql] }',
      );
      const [issue] = issuesOf(text);
      expect(issue).toMatchObject({
        code: 'group-order',
        line: 8,
        column: 32,
        path: 'spec.vms[0].dependsOn[0]',
      });
      expect(issue?.message).toBe(
        '"app" is in group "first" (#1) but depends on "sql" in the later group "second" (#2)',
      );
    });

    it('sees a contradiction through an ungrouped VM', () => {
      const text = planText(
        [
          '    - { name: web, dependsOn: [app] }',
          '    - { name: app, dependsOn: [sql] }',
          '    - { name: sql }',
        ].join('\n'),
        '  groups:\n    - { name: front, vms: [web] }\n    - { name: data, vms: [sql] }',
      );
      expect(issuesOf(text)[0]?.message).toBe(
        '"web" is in group "front" (#1) but depends through "app" on "sql" in the later group "data" (#2)',
      );
    });
  });

  describe('when source equals target', () => {
    it('reports it at the target', () => {
      const text = planText('    - name: a', '', { source: 'dc-east', target: 'dc-east' });
      expect(issuesOf(text)).toEqual([
        expect.objectContaining({ code: 'same-site', line: 6, column: 11, path: 'spec.target' }),
      ]);
    });
  });

  describe('when a duration is invalid', () => {
    it.each(['90 sec', '5min', '1m1h', 'soon'])('reports "%s" with the accepted forms', (value) => {
      const text = planText(`    - { name: a, bootEstimate: ${value} }`);
      expect(issuesOf(text)).toEqual([
        expect.objectContaining({
          code: 'invalid-duration',
          line: 8,
          column: columnOf(text, 8, value),
          path: 'spec.vms[0].bootEstimate',
          hint: 'write durations like 90s, 5m, 1h30m, 500ms or 1d',
        }),
      ]);
    });
  });

  describe('when a key is unknown', () => {
    it('suggests the near miss: "dependOn" → "dependsOn"', () => {
      const text = planText(['    - name: a', '    - name: b', '      dependOn: [a]'].join('\n'));
      expect(issuesOf(text)).toEqual([
        expect.objectContaining({
          code: 'unknown-key',
          message: 'unknown key "dependOn"',
          line: 10,
          column: 7,
          path: 'spec.vms[1].dependOn',
          hint: 'did you mean "dependsOn"?',
        }),
      ]);
    });

    it('lists the allowed keys when nothing is close', () => {
      const text = planText('    - { name: a, readiness: { colour: blue } }');
      const [issue] = issuesOf(text);
      expect(issue).toMatchObject({ line: 8, column: columnOf(text, 8, 'colour') });
      expect(issue?.hint).toContain('expected one of heartbeat, tcp, http, delay, timeout, onTimeout');
    });
  });

  describe('when actions are wrong', () => {
    it('reports an unknown anchor, a missing kind and a runOn at the source, all at once', () => {
      const text = planText(
        '    - name: web',
        [
          '  actions:',
          '    - { name: dns, after: webb, script: update-dns }',
          '    - { name: nothing, before: web }',
          '    - { name: src, before: web, script: x, runOn: dc-east }',
        ].join('\n'),
      );
      const issues = issuesOf(text);
      expect(issues.map((i) => `${i.line}:${i.column} ${i.code}`)).toEqual([
        `10:${columnOf(text, 10, 'webb')} unknown-vm`,
        '11:7 action-kind',
        `12:${columnOf(text, 12, 'dc-east')} run-on`,
      ]);
      expect(issues[0]?.hint).toBe('did you mean "web"?');
      expect(issues[2]?.message).toBe(
        'a script cannot run at the source "dc-east": it may be down during failover',
      );
    });

    it('refuses an action with both before and after', () => {
      const text = planText(
        '    - name: web',
        '  actions:\n    - { name: x, before: web, after: web, manual: check }',
      );
      expect(issuesOf(text)).toEqual([
        expect.objectContaining({
          code: 'action-anchor',
          line: 10,
          column: columnOf(text, 10, 'web, manual'),
          path: 'spec.actions[0].after',
        }),
      ]);
    });

    it('refuses a script given as a path: scripts are catalog names', () => {
      const text = planText(
        '    - name: web',
        '  actions:\n    - { name: x, after: web, script: ./scripts/dns.ps1 }',
      );
      expect(issuesOf(text)).toEqual([
        expect.objectContaining({
          path: 'spec.actions[0].script',
          hint: expect.stringContaining('never a file path'),
        }),
      ]);
    });
  });

  describe('when automatic failover is faster than the site lease', () => {
    it('refuses it, naming the lease', () => {
      const text = planText('    - name: a', '  automaticFailover: { enabled: true, after: 10s }');
      expect(issuesOf(text)).toEqual([
        expect.objectContaining({
          code: 'auto-failover-before-lease',
          line: 9,
          column: 46,
          message: 'automatic failover after 10s is shorter than the site lease (30s)',
        }),
      ]);
    });
  });

  describe('when the site lease is longer than the default automatic failover delay', () => {
    it('refuses enabling automatic failover without a long enough delay', () => {
      const text = planText('    - name: a', '  automaticFailover: { enabled: true }');
      const issues = parsePlan(text, 'plan.yaml', { siteLeaseMs: 10 * 60_000 });
      expect(issues.ok ? [] : issues.issues).toEqual([
        expect.objectContaining({
          code: 'auto-failover-before-lease',
          message: 'automatic failover after 5m is shorter than the site lease (10m)',
          path: 'spec.automaticFailover.enabled',
        }),
      ]);
    });
  });

  describe('when a VM is named like a step id prefix', () => {
    it('refuses "action" and "barrier"', () => {
      const text = planText('    - name: action\n    - name: barrier');
      expect(issuesOf(text).map((i) => `${i.line} ${i.code}`)).toEqual([
        '8 reserved-name',
        '9 reserved-name',
      ]);
    });
  });

  describe('when names are unsafe for Redis keys and job ids', () => {
    it('refuses ":" and "/" in a VM name', () => {
      const text = planText(['    - name: "web:01"', '    - name: a/b'].join('\n'));
      expect(issuesOf(text).map((i) => `${i.line}:${i.column} ${i.message}`)).toEqual([
        '8:13 invalid VM name: "web:01"',
        '9:13 invalid VM name: "a/b"',
      ]);
    });
  });

  it('reports every kind of issue of a file in one pass, in file order', () => {
    const text = planText(
      ['    - { name: a, dependsOn: [zz] }', '    - { name: a }'].join('\n'),
      '  groups:\n    - { name: g, vms: [nope] }',
      { source: 'x', target: 'x' },
    );
    expect(issuesOf(text).map((i) => `${i.line} ${i.code}`)).toEqual([
      '6 same-site',
      '8 unknown-vm',
      '9 duplicate-name',
      '11 unknown-vm',
    ]);
  });
});
