import { InputError } from '../common/index.ts';
import type { PlanIssue } from './types.ts';

/**
 * A plan that cannot be used, with every issue found in one pass. Exit code 2 (bad input), never
 * retryable: the file has to change.
 */
export class PlanError extends InputError {
  readonly issues: PlanIssue[];

  constructor(issues: PlanIssue[], message?: string) {
    const errors = issues.filter((issue) => issue.severity === 'error');
    const first = errors[0] ?? issues[0];
    super(
      'PLAN_INVALID',
      message ??
        (first === undefined
          ? 'invalid plan'
          : `${first.file}: invalid plan, ${errors.length} error(s); first: ${formatIssue(first)}`),
      { issues },
    );
    this.name = 'PlanError';
    this.issues = issues;
  }
}

/** Compiler-style: `file:line:col: error: message [path] (hint)`. */
export function formatIssue(issue: PlanIssue): string {
  const path = issue.path === '' ? '' : ` [${issue.path}]`;
  const hint = issue.hint === undefined ? '' : ` (${issue.hint})`;
  return `${issue.file}:${issue.line}:${issue.column}: ${issue.severity}: ${issue.message}${path}${hint}`;
}

/** Issues ordered by position, then code, so output is stable and reads top to bottom. */
export function sortIssues(issues: PlanIssue[]): PlanIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.column - b.column || a.code.localeCompare(b.code));
}
