import { describe, expect, it } from 'vitest';
import { parsePlan, parsePlanWithStage } from '../../../engine/plan/index.ts';
import { columnOf, issuesOf, planText } from './helpers.ts';

/** `line:column code path` of every issue, in the order parsePlan reports them. */
function located(text: string): string[] {
  return issuesOf(text).map((i) => `${i.line}:${i.column} ${i.code} ${i.path}`);
}

describe('schema errors and semantic findings in one pass', () => {
  it('reports an unknown key, a bad duration, an unknown VM and a cycle in one call', () => {
    const text = planText(
      [
        '    - name: sql-01',
        '      dependsOn: [app-01]',
        '    - name: app-01',
        '      dependOn: [sql-01]',
        '      bootEstimate: 5 min',
        '    - name: app-02',
        '      dependsOn: [sql-01, sql-1]',
        '    - name: web-01',
        '      dependsOn: [app-02, web-02]',
        '    - name: web-02',
        '      dependsOn: [web-01]',
      ].join('\n'),
    );
    const issues = issuesOf(text);
    expect(issues.map((i) => `${i.line}:${i.column} ${i.code} ${i.path}`)).toEqual([
      '11:7 unknown-key spec.vms[1].dependOn',
      '12:21 invalid-duration spec.vms[1].bootEstimate',
      '14:27 unknown-vm spec.vms[2].dependsOn[1]',
      '16:27 dependency-cycle spec.vms[3].dependsOn[1]',
    ]);
    // The columns, spelled out: the key, the value, the entry.
    expect(issues[0]?.column).toBe(columnOf(text, 11, 'dependOn'));
    expect(issues[1]?.column).toBe(columnOf(text, 12, '5 min'));
    expect(issues[2]?.column).toBe(columnOf(text, 14, 'sql-1]'));
    expect(issues[3]?.column).toBe(columnOf(text, 16, 'web-02]'));
    expect(issues.map((i) => [i.message, i.hint])).toEqual([
      ['unknown key "dependOn"', 'did you mean "dependsOn"?'],
      ['invalid duration for boot estimate: "5 min"', 'write durations like 90s, 5m, 1h30m, 500ms or 1d'],
      ['"app-02" depends on unknown VM "sql-1"', 'did you mean "sql-01"?'],
      ['dependency cycle: web-01 → web-02 → web-01', 'remove one dependsOn entry of the cycle'],
    ]);
  });

  it('reports a cycle and a group-order contradiction next to an unknown VM (schema-valid file)', () => {
    const text = planText(
      [
        '    - { name: a, dependsOn: [b, ghost] }',
        '    - { name: b, dependsOn: [a] }',
        '    - { name: c, dependsOn: [d] }',
        '    - { name: d }',
      ].join('\n'),
      '  groups:\n    - { name: first, vms: [c] }\n    - { name: second, vms: [d] }',
    );
    // A cycle hides the group order (it needs a topological order): fix the cycle, then see it.
    expect(located(text)).toEqual([
      `8:${columnOf(text, 8, 'b, ghost')} dependency-cycle spec.vms[0].dependsOn[0]`,
      `8:${columnOf(text, 8, 'ghost')} unknown-vm spec.vms[0].dependsOn[1]`,
    ]);
    const acyclic = text.replace('{ name: b, dependsOn: [a] }', '{ name: b }');
    expect(located(acyclic)).toEqual([
      `8:${columnOf(acyclic, 8, 'ghost')} unknown-vm spec.vms[0].dependsOn[1]`,
      `10:${columnOf(acyclic, 10, 'd]')} group-order spec.vms[2].dependsOn[0]`,
    ]);
  });

  it('reports semantic findings next to a wrong type and a bad name, without repeating them', () => {
    const text = planText(
      [
        '    - { name: "web:01", dependsOn: [db] }',
        '    - { name: db, dependsOn: web }',
        '    - { name: app, dependsOn: [db, dbb, 7] }',
      ].join('\n'),
      '  groups:\n    - { name: g, vms: [nope] }',
      { source: 'x', target: 'x' },
    );
    expect(located(text)).toEqual([
      '6:11 same-site spec.target',
      `8:${columnOf(text, 8, '"web:01"')} invalid-value spec.vms[0].name`,
      `9:${columnOf(text, 9, 'web }')} invalid-type spec.vms[1].dependsOn`,
      `10:${columnOf(text, 10, 'dbb')} unknown-vm spec.vms[2].dependsOn[1]`,
      `10:${columnOf(text, 10, '7]')} invalid-type spec.vms[2].dependsOn[2]`,
      `12:${columnOf(text, 12, 'nope')} unknown-vm spec.groups[0].vms[0]`,
    ]);
  });

  it('does not report references as unknown while a VM has no readable name', () => {
    const text = planText(['    - { dependsOn: [b] }', '    - { name: a, dependsOn: [web-01] }'].join('\n'));
    expect(located(text)).toEqual(['8:7 missing-key spec.vms[0]']);
  });

  it('does not call a misspelled action kind or anchor "missing"', () => {
    const text = planText(
      '    - name: web',
      [
        '  actions:',
        '    - { name: dns, aftr: web, scrpit: update-dns, runOn: target }',
        '    - { name: ok, after: webb, manual: check }',
      ].join('\n'),
    );
    expect(issuesOf(text).map((i) => `${i.line}:${i.column} ${i.code} ${i.hint}`)).toEqual([
      `10:${columnOf(text, 10, 'aftr')} unknown-key did you mean "after"?`,
      `10:${columnOf(text, 10, 'scrpit')} unknown-key did you mean "script"?`,
      `11:${columnOf(text, 11, 'webb')} unknown-vm did you mean "web"?`,
    ]);
  });

  it('does not judge automatic failover by the default delay when the written one is invalid', () => {
    const text = planText(
      '    - { name: a, bootEstimate: soon }',
      '  automaticFailover: { enabled: true, after: 5 min }',
    );
    const result = parsePlan(text, 'plan.yaml', { siteLeaseMs: 10 * 60_000 });
    expect(result.ok ? [] : result.issues.map((i) => `${i.code} ${i.path}`)).toEqual([
      'invalid-duration spec.vms[0].bootEstimate',
      'invalid-duration spec.automaticFailover.after',
    ]);
  });

  it('still reports a too-short valid delay next to a schema error', () => {
    const text = planText(
      '    - { name: a, bootEstimate: soon }',
      '  automaticFailover: { enabled: true, after: 10s }',
    );
    expect(located(text)).toEqual([
      `8:${columnOf(text, 8, 'soon')} invalid-duration spec.vms[0].bootEstimate`,
      `9:${columnOf(text, 9, '10s')} auto-failover-before-lease spec.automaticFailover.after`,
    ]);
  });

  it('leaves the graph alone while two VMs share a name', () => {
    const text = planText(
      [
        '    - { name: a, dependsOn: [b], colour: red }',
        '    - { name: b, dependsOn: [a] }',
        '    - { name: a }',
      ].join('\n'),
    );
    expect(located(text).map((line) => line.split(' ')[1])).toEqual(['unknown-key', 'duplicate-name']);
  });

  it('keeps the stage "schema" and never runs the checks on a spec that is not a mapping', () => {
    const { result, stage } = parsePlanWithStage(
      'apiVersion: dr/v1\nkind: RecoveryPlan\nmetadata: { name: p }\nspec: [1, 2]\n',
      'plan.yaml',
    );
    expect(stage).toBe('schema');
    expect(result.ok ? [] : result.issues.map((i) => i.code)).toEqual(['invalid-type']);
  });
});
