import { expect } from 'vitest';
import { type PlanIssue, type PlanResult, parsePlan, type RecoveryPlan } from '../../../engine/plan/index.ts';

/**
 * A plan around the given `vms:` items and extra spec keys. Lines: 1 apiVersion, 2 kind,
 * 3 metadata, 4 spec, 5 source, 6 target, 7 "vms:", VM items from line 8.
 */
export function planText(vms: string, extra = '', sites = { source: 'dc-east', target: 'dc-west' }): string {
  return [
    'apiVersion: dr/v1',
    'kind: RecoveryPlan',
    'metadata: { name: test-plan }',
    'spec:',
    `  source: ${sites.source}`,
    `  target: ${sites.target}`,
    '  vms:',
    vms.replace(/\n$/, ''),
    extra.replace(/\n$/, ''),
  ]
    .filter((line) => line !== '')
    .join('\n')
    .concat('\n');
}

export function issuesOf(text: string): PlanIssue[] {
  const result: PlanResult = parsePlan(text, 'plan.yaml');
  if (result.ok)
    throw new Error(`expected issues, the plan is valid (warnings: ${JSON.stringify(result.warnings)})`);
  return result.issues;
}

export function validPlan(text: string): RecoveryPlan {
  const result = parsePlan(text, 'plan.yaml');
  if (!result.ok)
    throw new Error(
      `expected a valid plan:\n${result.issues.map((i) => `${i.line}:${i.column} ${i.message}`).join('\n')}`,
    );
  return result.plan;
}

/** 1-based column of `needle` in line `line` of `text` (for positions that are easy to misread). */
export function columnOf(text: string, line: number, needle: string): number {
  const at = (text.split('\n')[line - 1] ?? '').indexOf(needle);
  expect(at, `"${needle}" on line ${line}`).toBeGreaterThanOrEqual(0);
  return at + 1;
}
