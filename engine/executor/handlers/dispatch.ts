import type { Logger } from '../../common/index.ts';
import {
  type DataLossClaim,
  type ExecutionEvent,
  type JobStepKind,
  jobStepKind,
  type StepJobData,
  type StepJobResult,
  type StepResult,
  type VmPhase,
} from '../../contract/index.ts';
import type { HostDriver, RecoveryPoint, VmView } from '../../hosts/index.ts';
import type { SightingStore } from '../../locks/index.ts';
import { type ActionMemo, actionHandler, runActionStep } from './action.ts';
import { bootHandler } from './boot.ts';
import { changePointHandler, putBack } from './change-point.ts';
import { cleanupHandler } from './cleanup.ts';
import { commitHandler } from './commit.ts';
import type { HandlerContext, HandlerOutcome, ResolvedHandlerOptions, StepHandler } from './context.ts';
import { StepError, toStepError } from './errors.ts';
import { failoverHandler } from './failover.ts';
import { fenceHandler } from './fence.ts';
import { protectHandler } from './protect.ts';
import { readinessHandler } from './readiness.ts';
import { reprotectHandler, resyncHandler } from './reprotect.ts';
import { returnHandler } from './return.ts';
import { restoreHandler, revertHandler } from './revert.ts';
import { shutdownHandler } from './shutdown.ts';
import { rejectOnAbort } from './vm.ts';

const HANDLERS: Record<JobStepKind, StepHandler> = {
  fence: fenceHandler,
  shutdown: shutdownHandler,
  failover: failoverHandler,
  boot: bootHandler,
  readiness: readinessHandler,
  cleanup: cleanupHandler,
  protect: protectHandler,
  action: actionHandler,
  commit: commitHandler,
  'change-point': changePointHandler,
  revert: revertHandler,
  restore: restoreHandler,
  return: returnHandler,
  reprotect: reprotectHandler,
  resync: resyncHandler,
};

/** The phase a VM is in while a step of this kind runs (actions leave it as it is). */
const PHASE_WHILE: Record<JobStepKind, VmPhase | undefined> = {
  fence: 'shutting-down',
  shutdown: 'shutting-down',
  failover: 'failing-over',
  boot: 'booting',
  readiness: 'awaiting-readiness',
  cleanup: 'cleaning-up',
  // Setting the automatic start action changes nothing an operator follows as a phase.
  protect: undefined,
  action: undefined,
  commit: 'committing',
  'change-point': 'failing-over',
  revert: 'rolling-back',
  restore: 'rolling-back',
  return: 'failing-over',
  reprotect: 'reprotecting',
  resync: 'reprotecting',
};

/** The phase a VM reaches when a step of this kind ends well, if it is a milestone. */
const PHASE_AFTER: Partial<Record<JobStepKind, VmPhase>> = {
  fence: 'waiting',
  readiness: 'ready',
  cleanup: 'cleaned-up',
  commit: 'committed',
  restore: 'rolled-back',
  return: 'ready',
  resync: 'protected',
};

/** Steps that act on hosts: a job of them that made no call is a repeat (`alreadyDone`). */
const MUTATING: ReadonlySet<JobStepKind> = new Set<JobStepKind>([
  'fence',
  'shutdown',
  'failover',
  'boot',
  'cleanup',
  'protect',
  'action',
  'commit',
  'change-point',
  'revert',
  'restore',
  'return',
  'reprotect',
]);

/** Where a job's events go: one call appends a batch (one pipeline, one round trip). */
export interface EventSink {
  append(events: readonly ExecutionEvent[]): Promise<void>;
}

/** Keeps an action from running twice in silence (handlers/action.ts). */
export type { ActionMemo };

export interface RunStepJobDeps {
  api: HostDriver;
  log: Logger;
  events: EventSink;
  memo?: ActionMemo;
  /** Where handlers record what they saw of primaries (context.ts). */
  sightings?: SightingStore;
  options: ResolvedHandlerOptions;
  signal: AbortSignal;
  /**
   * Write no `vm-phase` events: the job is late, its steps already recorded final (a fence the
   * orchestrator recorded warned at its deadline, run when the source site came back). The VM is
   * up at the target by then; a phase at the source would read as if it went back.
   */
  late?: boolean;
  /** For a late fence: the VM's failover at the target was done (HandlerContext.late). */
  lateFailedOver?: boolean;
}

/** A job's result, and the error that must end the job as unrecoverable (a stale epoch). */
export interface StepJobRun {
  result: StepJobResult;
  unrecoverable?: StepError;
}

/**
 * Carry out a step job: each step in order, reading the host before acting. Events are batched: one
 * append per transition (the previous step's end, the next step's start and the VM's phase go
 * together). Expected failures end as a `failed` step and the later steps are `skipped`; the job
 * is aborted (rethrown) only when the worker shuts down mid-step, so that BullMQ hands it over.
 */
export async function runStepJob(jobId: string, job: StepJobData, deps: RunStepJobDeps): Promise<StepJobRun> {
  const results: StepResult[] = [];
  let pending: ExecutionEvent[] = [];
  let failure: StepError | undefined;
  let mutated = false;
  let mutatingSteps = 0;
  let unfinished = false;
  let recoveryPoint: RecoveryPoint | undefined;
  let dataLoss: DataLossClaim | undefined;
  let known: VmView | undefined;
  const earlier: Record<string, Record<string, unknown>> = {};
  const base = { v: 1 as const, execution: job.execution, site: job.site, attempt: job.attempt };
  const aborted = rejectOnAbort(deps.signal);
  const appends: Promise<void>[] = [];
  const phase = (p: VmPhase, detail?: string): void => {
    if (job.vm === undefined || deps.late) return;
    const event: ExecutionEvent = {
      v: 1,
      at: new Date().toISOString(),
      type: 'vm-phase',
      execution: job.execution,
      vm: job.vm,
      site: job.site,
      phase: p,
    };
    pending.push(detail === undefined ? event : { ...event, detail });
  };

  for (const step of job.steps) {
    const startedAt = new Date().toISOString();
    if (failure !== undefined) {
      results.push({ id: step, outcome: 'skipped', startedAt, endedAt: startedAt });
      pending.push({ ...base, at: startedAt, type: 'step-finished', step, outcome: 'skipped' });
      continue;
    }
    const kind = jobStepKind(step);
    const log = deps.log.child({ step });
    pending.push({ ...base, at: startedAt, type: 'step-started', step });
    const during = kind === undefined ? undefined : PHASE_WHILE[kind];
    if (during !== undefined) phase(during);
    // Not awaited here: appends on one connection stay in order, and all are awaited before the
    // result is returned (so before the completion is published).
    appends.push(settleLater(deps.events.append(pending)));
    pending = [];

    let outcome: HandlerOutcome | undefined;
    let stepCtx: HandlerContext | undefined;
    try {
      if (kind === undefined) {
        throw new StepError('BAD_JOB', `step ${step} of job ${jobId} is not a step a worker runs`, {
          step,
          site: job.site,
        });
      }
      if (MUTATING.has(kind)) mutatingSteps += 1;
      const ctx: HandlerContext = {
        api: deps.api,
        job,
        jobId,
        step,
        log,
        signal: deps.signal,
        options: deps.options,
        ...(deps.sightings === undefined ? {} : { sightings: deps.sightings }),
        ...(known === undefined ? {} : { known }),
        ...(deps.late ? { late: { failedOver: deps.lateFailedOver === true } } : {}),
        earlier,
      };
      known = undefined;
      stepCtx = ctx;
      // The step's host calls may outlive an abort; their effects are absorbed by the next run.
      outcome = await Promise.race([
        kind === 'action' ? runActionStep(ctx, deps.memo) : HANDLERS[kind](ctx),
        aborted,
      ]);
    } catch (error) {
      if (deps.signal.aborted) throw error;
      const stepError = toStepError(error, { step, site: job.site, vm: job.vm });
      // A change of point whose new point does not boot: the VM goes back to the point it ran from.
      failure =
        job.type === 'change-point' && (kind === 'boot' || kind === 'readiness') && stepCtx !== undefined
          ? await Promise.race([putBack(stepCtx, stepError), aborted])
          : stepError;
      log.warn({ code: failure.code, retryable: failure.retryable, err: failure.message }, 'step failed');
    }
    const endedAt = new Date().toISOString();
    if (outcome !== undefined && kind !== undefined) {
      mutated ||= outcome.mutated;
      known = outcome.view;
      if (outcome.output !== undefined) earlier[step] = outcome.output;
      recoveryPoint = outcome.recoveryPoint ?? recoveryPoint;
      dataLoss = outcome.dataLoss ?? dataLoss;
      const result = stepResult(step, startedAt, endedAt, outcome);
      results.push(result);
      pending.push({
        ...base,
        at: endedAt,
        type: 'step-finished',
        step,
        outcome: result.outcome,
        ...optional(result),
      });
      const after = outcome.phase ?? PHASE_AFTER[kind];
      if (after !== undefined)
        phase(after, outcome.detail ?? (outcome.outcome === 'warned' ? outcome.error?.message : undefined));
      if (outcome.events !== undefined) pending.push(...outcome.events);
      // A host-acting step that ended warned (a fence that could not reach the source) did not find
      // its work done: the job is not a repeat.
      if (MUTATING.has(kind) && outcome.outcome !== 'done') unfinished = true;
      log.debug({ outcome: result.outcome, mutated: outcome.mutated }, 'step finished');
    } else if (failure !== undefined) {
      const error = { code: failure.code, message: failure.message, retryable: failure.retryable };
      const result: StepResult = { id: step, outcome: 'failed', startedAt, endedAt, error };
      if (failure.output !== undefined) result.output = failure.output;
      results.push(result);
      pending.push({
        ...base,
        at: endedAt,
        type: 'step-finished',
        step,
        outcome: 'failed',
        ...optional(result),
      });
      phase('failed', `${failure.code}: ${failure.message}`);
    }
  }
  appends.push(settleLater(deps.events.append(pending)));
  await Promise.all(appends);

  const result: StepJobResult = { v: 1, steps: results };
  if (recoveryPoint !== undefined) result.recoveryPoint = { id: recoveryPoint.id, time: recoveryPoint.time };
  if (dataLoss !== undefined) result.dataLoss = dataLoss;
  if (failure === undefined && mutatingSteps > 0 && !mutated && !unfinished) result.alreadyDone = true;
  return failure?.code === 'STALE_EPOCH' ? { result, unrecoverable: failure } : { result };
}

/** Mark a promise handled now (it is awaited later), so an early rejection is not reported as unhandled. */
function settleLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function stepResult(step: string, startedAt: string, endedAt: string, outcome: HandlerOutcome): StepResult {
  const result: StepResult = { id: step, outcome: outcome.outcome, startedAt, endedAt };
  if (outcome.output !== undefined) result.output = outcome.output;
  if (outcome.error !== undefined) result.error = outcome.error;
  return result;
}

function optional(result: StepResult): Pick<StepResult, 'output' | 'error'> {
  return {
    ...(result.output === undefined ? {} : { output: result.output }),
    ...(result.error === undefined ? {} : { error: result.error }),
  };
}
