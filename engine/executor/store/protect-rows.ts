/**
 * What a protect execution did to each VM, from its event log (the `step-finished` of each
 * `<vm>/protect`, last attempt): the rows `drctl protect` prints, and what `--json` gives.
 */
import type { Redis } from 'ioredis';
import { AUTOMATIC_START_ACTIONS, type AutomaticStartActionName } from '../../contract/index.ts';
import { readAllEvents } from '../events.ts';
import { protectStepId } from '../orchestrator/protect-steps.ts';
import { loadExecution, loadPlanSnapshot } from './execution-record.ts';

/** One VM's outcome. */
export interface ProtectRow {
  vm: string;
  site?: string;
  before?: AutomaticStartActionName;
  after?: AutomaticStartActionName;
  changed: boolean;
  error?: { code: string; message: string };
}

function actionOf(value: unknown): AutomaticStartActionName | undefined {
  return AUTOMATIC_START_ACTIONS.find((a) => a === value);
}

export async function protectRows(redis: Redis, prefix: string, execution: string): Promise<ProtectRow[]> {
  const { record } = await loadExecution(redis, prefix, execution);
  const plan = await loadPlanSnapshot(redis, prefix, execution);
  const finished = new Map<string, ProtectRow>();
  for (const { event } of await readAllEvents(redis, prefix, execution)) {
    if (event.type !== 'step-finished' || !event.step.endsWith('/protect')) continue;
    const vm = event.step.slice(0, -'/protect'.length);
    const output = event.output ?? {};
    const before = actionOf(output.before);
    const after = actionOf(output.after);
    const row: ProtectRow = {
      vm,
      site: typeof output.site === 'string' ? output.site : event.site,
      ...(before === undefined ? {} : { before }),
      ...(after === undefined ? {} : { after }),
      changed: output.changed === true,
    };
    if (event.outcome !== 'done')
      row.error = event.error
        ? { code: event.error.code, message: event.error.message }
        : { code: 'NOT_SET', message: `${event.step} ended ${event.outcome}` };
    finished.set(vm, row);
  }
  const leftOut: ProtectRow[] = (record.protect?.leftOut ?? []).map((l) => ({
    vm: l.vm,
    site: l.site,
    changed: false,
    error: { code: l.code, message: `given no step: its site could not be read at submit: ${l.message}` },
  }));
  const rows = plan.vms.map(
    (v): ProtectRow =>
      finished.get(v.name) ?? {
        vm: v.name,
        ...(record.protect?.sites[v.name] ? { site: record.protect.sites[v.name] } : {}),
        changed: false,
        error: {
          code: 'NOT_RUN',
          message: `${protectStepId(v.name)} has not run (execution ${execution} is ${record.status}): is a worker of its site running?`,
        },
      },
  );
  return [...rows, ...leftOut];
}
