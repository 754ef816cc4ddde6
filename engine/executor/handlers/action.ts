import { hostname } from 'node:os';
import { assertNever } from '../../common/index.ts';
import type { EngineEvent, StepResult } from '../../contract/index.ts';
import type { ActionRun, PlanAction } from '../../plan/types.ts';
import { requireAction } from './action-context.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError } from './errors.ts';
import { endOrphanedGroup, type ScriptGroup, scriptGroup } from './orphans.ts';
import { scriptAction } from './script.ts';
import { webhookAction } from './webhook.ts';

/** Step id of an action's undo (run by `drctl cancel`): `action/<name>/undo`. */
export function isUndoStep(step: string): boolean {
  return step.startsWith('action/') && step.endsWith('/undo');
}

/** The run an action step carries out: the action's own, or its undo for `action/<name>/undo`. */
export function actionRunOf(step: string, action: PlanAction): ActionRun | undefined {
  return isUndoStep(step) ? action.undo : action.run;
}

/**
 * An action step: a catalog script or a webhook (or, for `action/<name>/undo`, the action's undo).
 * Manual actions wait for an operator, which the orchestrator does; a worker that receives one
 * refuses it clearly.
 */
export async function actionHandler(
  ctx: HandlerContext,
  vms?: readonly string[],
  attempt?: number,
  spawned?: (pgid: number) => Promise<void>,
): Promise<HandlerOutcome> {
  const action = requireAction(ctx);
  const run = actionRunOf(ctx.step, action);
  if (run === undefined) {
    throw new StepError(
      'NO_UNDO',
      `${ctx.step}: action "${action.name}" has no undo; give it \`undo:\` in the plan, or undo its effect by hand`,
      { step: ctx.step, site: ctx.job.site },
    );
  }
  switch (run.type) {
    case 'script':
      return await scriptAction(ctx, action, run, vms, attempt, spawned);
    case 'webhook':
      return await webhookAction(ctx, action, run, vms, attempt);
    case 'manual':
      throw new StepError(
        'MANUAL_ACTION_NOT_FOR_WORKERS',
        `${ctx.step}: manual action "${action.name}" needs an operator's approval, which the orchestrator handles; it must not be queued to a worker`,
        { step: ctx.step, site: ctx.job.site },
      );
    default:
      return assertNever(run, 'action run');
  }
}

/** A run of an action step as it is marked while it runs. */
export interface ActionRunMark {
  job: string;
  /** The job's attempt (the orchestrator's); the run's own number is the memo's run count. */
  attempt: number;
  startedAt: string;
  /** `<host>/<pid>` of the worker process running it. */
  worker: string;
  /** A script's process group, once it started (orphans.ts). */
  group?: ScriptGroup;
}

/**
 * What keeps an action from running twice in silence (a script cannot be asked whether it already
 * ran, as a host can): per execution and step, the result of a run that finished well, and a mark
 * while a run is in progress. A mark found at the start of a run is a run whose worker died (or
 * shut down, or lost the job's lock) before it finished.
 */
export interface ActionMemo {
  /** The result of an earlier run of this step that ended done or warned, by any job. */
  done(step: string): Promise<StepResult | undefined>;
  /**
   * Mark this run started. Returns the mark of an earlier run that never finished, if any, and
   * how many runs of the step have started in all, this one included.
   */
  begin(step: string, mark: ActionRunMark): Promise<{ interrupted?: ActionRunMark; runs: number }>;
  /** A script of this run started in process group `group`: kept in the run's mark. */
  spawned?(step: string, group: ScriptGroup): Promise<void>;
  /** The run ended: its mark goes; a done/warned result is kept. */
  end(step: string, result?: StepResult): Promise<void>;
  /** Append an event to the execution's log (`action-rerun`). */
  note(event: EngineEvent): Promise<void>;
  /** The VMs an action is about: its VM, or its group's VMs from the execution's plan snapshot. */
  vmsOf?(action: PlanAction): Promise<string[]>;
}

const WORKER = `${hostname()}/${process.pid}`;

/**
 * Run an action step at most as often as its plan allows: a step whose earlier run finished well is
 * not run again (its result is returned, `repeated: true`); one whose earlier run never finished is
 * run again only while `onFailure.retries` allows (runs so far ≤ retries + 1), with an
 * `action-rerun` event saying so, else it fails ACTION_INTERRUPTED (not retryable: the plan's
 * failure policy decides, e.g. pause for an operator).
 *
 * The run's number (DR_ATTEMPT, a webhook's `attempt`, the action-rerun event's `attempt`) is the
 * count of runs of the step started so far, this one included: a run after a worker died mid-run
 * is a new number even though BullMQ runs the same job again, as is every retry of the step.
 */
export async function runActionStep(
  ctx: HandlerContext,
  memo: ActionMemo | undefined,
): Promise<HandlerOutcome> {
  if (memo === undefined) return await actionHandler(ctx);
  const previous = await memo.done(ctx.step);
  if (previous !== undefined && (previous.outcome === 'done' || previous.outcome === 'warned')) {
    ctx.log.info('action already ran in an earlier run; not running it again');
    return { outcome: previous.outcome, mutated: false, output: { ...previous.output, repeated: true } };
  }
  const action = requireAction(ctx);
  const startedAt = new Date().toISOString();
  const begun = await memo.begin(ctx.step, {
    job: ctx.jobId,
    attempt: ctx.job.attempt,
    startedAt,
    worker: WORKER,
  });
  const interrupted = begun.interrupted;
  if (interrupted !== undefined) {
    const allowed = action.onFailure.retries + 1;
    // Its script died with its worker (its supervisor saw to it); if the supervisor died too,
    // what is left of the script's group is ended here, before anything runs again.
    const orphans =
      interrupted.group === undefined
        ? ''
        : ` (${await endOrphanedGroup(interrupted.group, ctx.job.execution, ctx.step)})`;
    const earlier = `its run started at ${interrupted.startedAt} by worker ${interrupted.worker} (job ${interrupted.job}) never finished: the worker died, shut down or lost the job${orphans}`;
    if (begun.runs > allowed) {
      await memo.end(ctx.step);
      throw new StepError(
        'ACTION_INTERRUPTED',
        `${ctx.step}: ${earlier}; it may have had part of its effect. onFailure.retries (${action.onFailure.retries}) allows no further run, so it is not run again: check its effect, then decide (drctl step retry|done|skip when the plan pauses)`,
        { step: ctx.step, site: ctx.job.site },
        { retryable: false },
      );
    }
    await memo.note({
      v: 1,
      at: startedAt,
      type: 'action-rerun',
      execution: ctx.job.execution,
      step: ctx.step,
      site: ctx.job.site,
      attempt: begun.runs,
      reason: `${earlier}; running it again (run ${begun.runs} of at most ${allowed}, as onFailure.retries allows)`,
      // The mark found is the one the run before this one left.
      previous: {
        job: interrupted.job,
        startedAt: interrupted.startedAt,
        worker: interrupted.worker,
        attempt: begun.runs - 1,
      },
    });
    ctx.log.warn({ previous: interrupted, runs: begun.runs }, 'action re-run after an interrupted run');
  }
  let outcome: HandlerOutcome;
  try {
    const spawned = memo.spawned
      ? (pgid: number) => memo.spawned?.(ctx.step, scriptGroup(pgid)) ?? Promise.resolve()
      : undefined;
    outcome = await actionHandler(ctx, await memo.vmsOf?.(action), begun.runs, spawned);
  } catch (error) {
    // Stopped by a shutdown: the mark stays, so the next run says it is a re-run.
    if (!ctx.signal.aborted) await memo.end(ctx.step);
    throw error;
  }
  const endedAt = new Date().toISOString();
  const result: StepResult = { id: ctx.step, outcome: outcome.outcome, startedAt, endedAt };
  if (outcome.output !== undefined) result.output = outcome.output;
  await memo.end(ctx.step, result);
  return outcome;
}
