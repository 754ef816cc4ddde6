import type { ActionRun, PlanAction } from '../../plan/types.ts';
import type { HandlerContext } from './context.ts';
import { StepError } from './errors.ts';

/** What a script or webhook learns about the execution it runs in (env vars / JSON body). */
export interface ActionExecutionContext {
  execution: string;
  plan?: string;
  type: string;
  direction: string;
  action: string;
  when: 'before' | 'after';
  /** True when this run is the action's undo (`action/<name>/undo`, run by a cancel). */
  undo: boolean;
  step: string;
  vm?: string;
  group?: string;
  /** The VMs the action is about: its VM, or its group's VMs (empty for a plan-level action). */
  vms: string[];
  site: string;
  fromSite: string;
  toSite: string;
  epoch: number;
  /** The run's number: runs of this step started so far, this one included (action.ts). */
  attempt: number;
  args: Record<string, string>;
}

/** The job's action; an action step without one is a bug in the orchestrator. */
export function requireAction(ctx: HandlerContext): PlanAction {
  const action = ctx.job.action;
  if (action === undefined) {
    throw new StepError(
      'BAD_JOB',
      `step ${ctx.step} is an action step but job ${ctx.jobId} carries no action`,
      {
        step: ctx.step,
        site: ctx.job.site,
      },
    );
  }
  return action;
}

export function actionExecutionContext(
  ctx: HandlerContext,
  action: PlanAction,
  run: ActionRun = action.run,
  vms: readonly string[] = action.vm === undefined ? [] : [action.vm],
  attempt: number = ctx.job.attempt,
): ActionExecutionContext {
  const job = ctx.job;
  return {
    execution: job.execution,
    ...(job.plan === undefined ? {} : { plan: job.plan }),
    type: job.type,
    direction: job.direction,
    action: action.name,
    when: action.when,
    undo: run !== action.run,
    step: ctx.step,
    ...(action.vm === undefined ? {} : { vm: action.vm }),
    ...(action.group === undefined ? {} : { group: action.group }),
    vms: [...vms],
    site: job.site,
    fromSite: job.fromSite,
    toSite: job.toSite,
    epoch: job.epoch,
    attempt,
    args: run.type === 'script' ? run.args : {},
  };
}

/** Keep the tail of a text within `limit` bytes (the end of a log says why it failed). */
export function tail(text: string, limit: number): { text: string; truncated: boolean } {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= limit) return { text, truncated: false };
  return { text: bytes.subarray(bytes.length - limit).toString('utf8'), truncated: true };
}
