/**
 * The control plane re-checks everything an agent reports before it is accepted: a report is for a
 * unit handed to this site's agent session that is still waited for, its steps are exactly the
 * unit's, its VM and execution are the unit's, and every event and sighting it carries is about
 * that unit. What fails is refused whole (nothing of the request is recorded) and logged.
 */
import { DrError } from '../../common/index.ts';
import type { ExecutionEvent, HandedUnit, StepJobData, UnitReport } from '../../contract/index.ts';
import type { HandedEntry, RecordStatus } from './handing.ts';

/** Why one unit's report (or progress) is refused: the problem's details name it. */
export interface Refusal {
  unit: string;
  code: string;
  detail: string;
}

/** The unit's StepJobData as the control plane handed it (it built it; no need to parse again). */
export function dataOf(unit: HandedUnit): StepJobData {
  return unit.data as unknown as StepJobData;
}

/** Whether `entry` may take a report from `session` of `site`: undefined when it may. */
export function handedTo(
  site: string,
  session: string,
  id: string,
  entry: HandedEntry | undefined,
): Refusal | undefined {
  if (entry === undefined) {
    return {
      unit: id,
      code: 'UNKNOWN_UNIT',
      detail: `unit ${id} was not handed to an agent of site ${site}, or is no longer waited for`,
    };
  }
  if (entry.session !== session) {
    return {
      unit: id,
      code: 'UNIT_NOT_HANDED_TO_SESSION',
      detail: `unit ${id} of site ${site} is handed to ${entry.session === '' ? 'no agent yet' : 'another agent session'}, not to session ${session}`,
    };
  }
  return undefined;
}

/** The events of a unit: of its execution, its steps, attempt, site and VM. */
export function eventsRefusal(
  id: string,
  data: StepJobData,
  events: readonly ExecutionEvent[] | UnitReport['events'],
): Refusal | undefined {
  const steps = new Set(data.steps);
  for (const [i, event] of events.entries()) {
    const at = `unit ${id} event ${i} (${event.type})`;
    const wrong = (what: string): Refusal => ({
      unit: id,
      code: 'EVENT_NOT_OF_UNIT',
      detail: `${at}: ${what}`,
    });
    if (event.execution !== data.execution)
      return wrong(`execution ${event.execution}, the unit's is ${data.execution}`);
    switch (event.type) {
      case 'step-started':
      case 'step-finished':
      case 'action-rerun':
        if (!steps.has(event.step)) return wrong(`step ${event.step} is not one of the unit's`);
        if (event.site !== data.site) return wrong(`site ${event.site}, the unit runs at ${data.site}`);
        if (event.type !== 'action-rerun' && event.attempt !== data.attempt)
          return wrong(`attempt ${event.attempt}, the unit's is ${data.attempt}`);
        break;
      case 'vm-phase':
        if (event.vm !== data.vm) return wrong(`VM ${event.vm}, the unit's is ${data.vm ?? 'none'}`);
        if (event.site !== data.site) return wrong(`site ${event.site}, the unit runs at ${data.site}`);
        break;
      case 'diverged':
        if (event.vm !== data.vm) return wrong(`VM ${event.vm}, the unit's is ${data.vm ?? 'none'}`);
        break;
      default:
        return wrong('not an event a unit writes');
    }
  }
  return undefined;
}

/** Why the record script refused a unit ('gone' or 'other'), as handedTo words it. */
export function recordRefusal(
  site: string,
  session: string,
  id: string,
  status: Exclude<RecordStatus, 'dup' | 'new'>,
): Refusal | undefined {
  if (status === 'gone') return handedTo(site, session, id, undefined);
  return {
    unit: id,
    code: 'UNIT_NOT_HANDED_TO_SESSION',
    detail: `unit ${id} of site ${site} is handed to another agent session, not to session ${session}`,
  };
}

/** A report against the unit it is for (as the control plane handed it). */
export function reportRefusal(unit: HandedUnit, report: UnitReport): Refusal | undefined {
  const data = dataOf(unit);
  const id = report.unit;
  const wrong = (detail: string): Refusal => ({
    unit: id,
    code: 'RESULT_NOT_OF_UNIT',
    detail: `unit ${id}: ${detail}`,
  });
  if (report.execution !== data.execution)
    return wrong(`execution ${report.execution}, the unit's is ${data.execution}`);
  if (report.vm !== data.vm) return wrong(`VM ${report.vm ?? 'none'}, the unit's is ${data.vm ?? 'none'}`);
  const steps = report.result.steps.map((s) => s.id);
  if (steps.length !== data.steps.length || steps.some((s, i) => s !== data.steps[i]))
    return wrong(`steps [${steps.join(', ')}], the unit's are [${data.steps.join(', ')}]`);
  if (report.result.dataLoss !== undefined && report.result.dataLoss.vm !== data.vm)
    return wrong(`a data-loss claim for VM ${report.result.dataLoss.vm}`);
  const sites = new Set([data.site, data.fromSite, data.toSite]);
  for (const op of report.sightings) {
    if (op.vm !== data.vm) return wrong(`a sighting of VM ${op.vm}`);
    if (!sites.has(op.site)) return wrong(`a sighting at site ${op.site}, not one of the unit's`);
  }
  return eventsRefusal(id, data, report.events);
}

/** The 4xx of a request with refused reports: the first says why, details list them all. */
export function refusedError(site: string, refusals: readonly Refusal[]): DrError {
  const first = refusals[0];
  const status = refusals.every((r) => r.code === 'UNKNOWN_UNIT')
    ? 404
    : refusals.some((r) => r.code === 'UNIT_NOT_HANDED_TO_SESSION')
      ? 409
      : 422;
  return new DrError(
    first?.code ?? 'RESULT_REFUSED',
    `${refusals.length} report(s) of site ${site} refused, nothing of this request recorded: ${first?.detail ?? ''}`,
    { details: { status, refused: refusals } },
  );
}
