/**
 * The notifications the engine raises by itself: what an execution decided (ExecutionNotice, from
 * the orchestrator) and what the agents' inventory changed into (a VM's health into Critical, its
 * RPO beyond a plan's target). Each occurrence names itself, so it is delivered once.
 */

import { assertNever } from '../../common/index.ts';
import type { ExecutionNotice } from '../../executor/index.ts';
import type { NotificationEvent } from './events.ts';

export function eventOfNotice(notice: ExecutionNotice): NotificationEvent {
  switch (notice.kind) {
    case 'step-waiting-manual':
      return {
        type: 'step.waiting-manual',
        occurrence: `${notice.execution}/${notice.step}/${notice.attempt}`,
        at: notice.at,
        subject: { plan: notice.plan, execution: notice.execution, step: notice.step, site: notice.site },
        summary: `${notice.plan} (${notice.executionType} ${notice.execution}): ${notice.step} waits for approval${notice.instruction === undefined ? '' : ` — ${notice.instruction}`}; drctl approve ${notice.execution} ${notice.step.replace(/^action\//, '')}`,
        details: {
          executionType: notice.executionType,
          attempt: notice.attempt,
          ...(notice.instruction === undefined ? {} : { instruction: notice.instruction }),
        },
      };
    case 'step-failed':
      return {
        type: 'step.failed',
        occurrence: `${notice.execution}/${notice.step}/${notice.attempt}`,
        at: notice.at,
        subject: {
          plan: notice.plan,
          execution: notice.execution,
          step: notice.step,
          site: notice.site,
          ...(notice.vm === undefined ? {} : { vm: notice.vm }),
        },
        summary: `${notice.plan} (${notice.executionType} ${notice.execution}): step ${notice.step} failed after attempt ${notice.attempt} (${notice.error.code}: ${notice.error.message}); ${policyText(notice.policy)}`,
        details: {
          executionType: notice.executionType,
          attempt: notice.attempt,
          error: notice.error,
          policy: notice.policy,
        },
      };
    case 'drill-overdue':
      return {
        type: 'drill.overdue',
        occurrence: notice.execution,
        at: notice.at,
        subject: { plan: notice.plan, execution: notice.execution },
        summary: `drill ${notice.execution} of ${notice.plan} ran past its maximum duration (deadline ${notice.deadline}, ${notice.status}); the engine cleans it up`,
        details: { deadline: notice.deadline, status: notice.status },
      };
    default:
      return assertNever(notice, 'execution notice');
  }
}

function policyText(policy: string): string {
  switch (policy) {
    case 'pause':
      return 'paused for an operator (drctl step retry / drctl step skip)';
    case 'continue-without-dependents':
      return 'its dependents are skipped, the rest goes on';
    default:
      return 'the execution fails';
  }
}
