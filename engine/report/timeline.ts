/**
 * One line per event: the timeline of record, as `drctl events` and the demo print it, stamped
 * with the event's ISO date and time (a run can span midnight, and a log is read days later). A
 * script step's stored output (the tail of its stdout and stderr) follows its line, indented.
 * Event times and the `+` offset (since submit) are the engine's wall clock; recovery-point times
 * and spreads are the sites' clock (simulated time on the simulator). TIMELINE_CLOCKS says so once.
 */

import { assertNever, formatElapsed } from '../common/index.ts';
import { describeClaimSize } from '../contract/index.ts';
import { discardText, ranFor, type StoredEvent } from '../executor/index.ts';

export const TIMELINE_CLOCKS =
  "times and +offsets (since submit): wall clock; recovery points: the sites' clock (simulated)";

export function timelineLine(stored: StoredEvent, startMs: number): string {
  const { event } = stored;
  const at = Date.parse(event.at);
  const offset = `+${formatElapsed(Math.max(0, at - startMs)).padStart(7)}`;
  const line = `${event.at} ${offset}  ${describeEvent(stored)}`;
  const output = event.type === 'step-finished' ? scriptOutput(event.output) : [];
  return [line, ...output].join('\n');
}

/** A protect step's before and after (its output): what the audit of a protect reads. */
function startAction(step: string, output: Record<string, unknown> | undefined): string {
  if (!step.endsWith('/protect') || output === undefined) return '';
  const { before, after, changed } = output;
  const at = typeof output.site === 'string' ? ` @${output.site}` : '';
  if (typeof before !== 'string') return at;
  if (typeof after !== 'string') return `${at} (automatic start action was ${before})`;
  return changed === true
    ? `${at} (automatic start action ${before} → ${after})`
    : `${at} (automatic start action already ${after})`;
}

/** `stdout| ...` and `stderr| ...` lines of a script's output, as the step stored it (a tail). */
export function scriptOutput(output: Record<string, unknown> | undefined): string[] {
  if (output === undefined) return [];
  const lines: string[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    const text = output[stream];
    if (typeof text !== 'string' || text.trim() === '') continue;
    for (const row of text.replace(/\n$/, '').split('\n')) lines.push(`    ${stream}| ${row}`);
  }
  if (lines.length > 0 && output.truncated === true)
    lines.unshift('    (output truncated: its last part only)');
  return lines;
}

export function describeEvent({ event }: StoredEvent): string {
  switch (event.type) {
    case 'execution-submitted':
      return `submitted ${event.executionType} of plan ${event.plan} (${event.hash.slice(0, 12)}) by ${event.by}: ${event.reason} [epoch ${event.epoch}]`;
    case 'execution-started':
      return `started by ${event.orchestrator}`;
    case 'execution-resumed':
      return `resumed by ${event.orchestrator} (${event.pendingSteps} steps left)`;
    case 'execution-finished':
      // A recovery has an RTO; a cleanup or lifecycle execution only took some time.
      if (event.rtoMs !== undefined)
        return `finished: ${event.status}, RTO ${formatElapsed(event.rtoMs)} wall`;
      return `finished: ${event.status}${event.durationMs === undefined ? '' : `, took ${formatElapsed(event.durationMs)} wall`}`;
    case 'execution-status':
      return `status ${event.status}${event.detail ? `: ${event.detail}` : ''}`;
    case 'vm-phase':
      return `vm ${event.vm.padEnd(16)} ${event.phase}${event.detail ? ` (${event.detail})` : ''} @${event.site}`;
    case 'step-started':
      return `step ${event.step} started @${event.site}${event.attempt > 1 ? ` (attempt ${event.attempt})` : ''}`;
    case 'step-finished':
      return `step ${event.step} ${event.outcome}${startAction(event.step, event.output)}${event.error ? `: ${event.error.code}: ${event.error.message}` : ''}`;
    case 'automatic-failover':
      return `AUTOMATIC ${event.drill ? 'drill of the automation' : 'failover'}: site ${event.site} lost at ${event.lostAt} (last renewal ${event.lastRenewalAt ?? '-'}, ${event.renewals.length} renewals seen; witness ${event.witness === undefined ? '-' : `${event.witness.by} ${event.witness.verdict}: ${event.witness.detail}`}); data-loss window ${event.dataLossWindowMs === undefined ? '-' : formatElapsed(event.dataLossWindowMs)} of ${event.maxDataLossMs === undefined ? '-' : formatElapsed(event.maxDataLossMs)} allowed${event.fencedByLease ? '; source fenced by its expired lease' : ''}`;
    case 'recovery-point-gap':
      return `recovery points: oldest ${event.oldest ?? '-'}, newest ${event.newest ?? '-'}, spread ${formatElapsed(event.spreadMs)} simulated`;
    case 'data-loss':
      return `data loss (claimed): ${event.vms.map((v) => `${v.vm} ${describeClaimSize(v, formatElapsed)}`).join(', ')}`;
    case 'ledger-data-loss':
      return `data loss (write counts an older release took from the simulator's ledger): ${event.totalLostWrites} writes (${event.vms.map((v) => `${v.vm} ${v.lostWrites}`).join(', ')})`;
    case 'step-paused':
      return `step ${event.step} PAUSED for an operator (attempt ${event.attempt}): ${event.error.code}: ${event.error.message}`;
    case 'operator-action':
      return `operator ${event.by}: ${event.command} ${event.step}${event.reason ? ` ("${event.reason}")` : ''}${event.accepted ? '' : ` REFUSED: ${event.detail ?? ''}`}`;
    case 'diverged':
      return `vm ${event.vm.padEnd(16)} DIVERGED: ran at ${event.site} for ${ranFor(event.ranMs)} (host time ${event.ranFrom} → ${event.ranUntil}) while failed over to ${event.runsAt}; ${event.fenced ? 'fenced' : 'NOT fenced'} (${event.detectedBy}); reprotect would discard ${discardText(event.discard)}`;
    case 'divergence-acknowledged':
      return `operator ${event.by}: let ${event.reprotect} discard the diverged writes of ${event.vms.join(', ')} ("${event.reason}")`;
    case 'action-rerun':
      return `step ${event.step} RE-RUN (attempt ${event.attempt}): ${event.reason}`;
    default:
      return assertNever(event, 'event');
  }
}
