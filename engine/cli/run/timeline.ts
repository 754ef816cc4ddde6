/** One line per event: the timeline of record, as `drctl events` and the demo print it. */

import { assertNever } from '../../common/index.ts';
import { describeClaimSize } from '../../contract/index.ts';
import type { StoredEvent } from '../../executor/index.ts';
import { seconds } from './common.ts';

export function timelineLine(stored: StoredEvent, startMs: number): string {
  const { event } = stored;
  const at = Date.parse(event.at);
  const offset = `+${seconds(Math.max(0, at - startMs)).padStart(7)}`;
  const time = event.at.slice(11, 23);
  return `${time} ${offset}  ${describe(stored)}`;
}

function describe({ event }: StoredEvent): string {
  switch (event.type) {
    case 'execution-submitted':
      return `submitted ${event.executionType} of plan ${event.plan} (${event.hash.slice(0, 12)}) by ${event.by}: ${event.reason} [epoch ${event.epoch}]`;
    case 'execution-started':
      return `started by ${event.orchestrator}`;
    case 'execution-resumed':
      return `resumed by ${event.orchestrator} (${event.pendingSteps} steps left)`;
    case 'execution-finished':
      return `finished: ${event.status}, RTO ${seconds(event.rtoMs)}`;
    case 'execution-status':
      return `status ${event.status}${event.detail ? `: ${event.detail}` : ''}`;
    case 'vm-phase':
      return `vm ${event.vm.padEnd(16)} ${event.phase}${event.detail ? ` (${event.detail})` : ''} @${event.site}`;
    case 'step-started':
      return `step ${event.step} started @${event.site}${event.attempt > 1 ? ` (attempt ${event.attempt})` : ''}`;
    case 'step-finished':
      return `step ${event.step} ${event.outcome}${event.error ? `: ${event.error.code}: ${event.error.message}` : ''}`;
    case 'recovery-point-gap':
      return `recovery points: oldest ${event.oldest ?? '-'}, newest ${event.newest ?? '-'}, spread ${seconds(event.spreadMs)}`;
    case 'data-loss':
      return `data loss (claimed): ${event.vms.map((v) => `${v.vm} ${describeClaimSize(v, seconds)}`).join(', ')}`;
    case 'step-paused':
      return `step ${event.step} PAUSED for an operator (attempt ${event.attempt}): ${event.error.code}: ${event.error.message}`;
    case 'operator-action':
      return `operator ${event.by}: ${event.command} ${event.step}${event.reason ? ` ("${event.reason}")` : ''}${event.accepted ? '' : ` REFUSED: ${event.detail ?? ''}`}`;
    case 'action-rerun':
      return `step ${event.step} RE-RUN (attempt ${event.attempt}): ${event.reason}`;
    default:
      return assertNever(event, 'event');
  }
}
