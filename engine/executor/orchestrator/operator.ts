/**
 * Operator control of an execution, on the orchestrator's side: a step that failed under
 * `then: pause` waits (`paused`), the execution shows as paused while any step waits, and the
 * operator's commands (`drctl approve`, `drctl step retry|skip|done`) arrive as entries of the
 * execution's completions stream (store/operator.ts writes them), so they are recorded by the same
 * fenced script as a worker's result and survive any restart: an orchestrator that resumes reads
 * them from its cursor like any completion.
 *
 * What each command means for the step and its dependents:
 * - `retry`: a new attempt is dispatched at once (job id `.a<N>`); dependents wait for it.
 * - `skip`: the step is marked `skipped`; its dependents go on as if it had succeeded (the engine
 *   does not know whether what they need is there: that is the operator's call).
 * - `done`: the operator did the step by hand; it is marked `done` and its dependents go on.
 * - `approve`: a manual action waiting for approval is done.
 */
import type { Logger } from '../../common/index.ts';
import {
  type EngineEvent,
  EVENT_SCHEMA_VERSION,
  OPERATOR_COMMANDS,
  type OperatorCommandName,
  type StepJobResult,
  type StepResult,
} from '../../contract/index.ts';
import type { VmEvent } from '../../machines/index.ts';
import {
  applyExecutionEvent,
  type ExecutionSnapshot,
  executionStatus,
  persistExecution,
} from '../../machines/index.ts';
import type { JobContext, StepGraph } from '../../schedule/index.ts';
import { releasesSuccessors, type StepState, type StepStatus } from '../../schedule/index.ts';
import { META, type ProgressWrite } from '../store/record.ts';
import { failurePolicyOf } from './failure-policy.ts';

/** Job ids of operator commands in the completions stream: `operator.<command>` (never a BullMQ job). */
export const OPERATOR_JOB_PREFIX = 'operator.';

export function isOperatorJobId(jobId: string): boolean {
  return jobId.startsWith(OPERATOR_JOB_PREFIX);
}

/** What an operator command carries (in the completion's `output.operator`). */
export interface OperatorCommand {
  command: OperatorCommandName;
  step: string;
  /** The step's attempt the operator saw (a command about an earlier pause is refused). */
  attempt: number;
  by: string;
  reason: string;
  givenAt: string;
}

/** The completion entry of an operator command. */
export function operatorCompletion(command: OperatorCommand): { jobId: string; result: StepJobResult } {
  const outcome: StepResult['outcome'] =
    command.command === 'skip' ? 'skipped' : command.command === 'retry' ? 'failed' : 'done';
  return {
    jobId: `${OPERATOR_JOB_PREFIX}${command.command}`,
    result: {
      v: 1,
      steps: [
        {
          id: command.step,
          outcome,
          startedAt: command.givenAt,
          endedAt: command.givenAt,
          output: { operator: { ...command } },
        },
      ],
    },
  };
}

function parseCommand(result: StepJobResult): OperatorCommand | undefined {
  const raw = result.steps[0]?.output?.operator as Partial<OperatorCommand> | undefined;
  if (!raw || typeof raw !== 'object') return undefined;
  if (!OPERATOR_COMMANDS.includes(raw.command as OperatorCommandName)) return undefined;
  if (typeof raw.step !== 'string' || typeof raw.attempt !== 'number') return undefined;
  return {
    command: raw.command as OperatorCommandName,
    step: raw.step,
    attempt: raw.attempt,
    by: typeof raw.by === 'string' ? raw.by : 'unknown',
    reason: typeof raw.reason === 'string' ? raw.reason : '',
    givenAt: typeof raw.givenAt === 'string' ? raw.givenAt : new Date().toISOString(),
  };
}

/** What the operator code may do to an execution's progress (progress.ts implements it). */
export interface OperatorTarget {
  readonly ctx: JobContext;
  readonly graph: StepGraph;
  readonly log: Logger;
  readonly paused: Set<string>;
  /** Steps failed for good (the execution ends failed while any is). */
  readonly failedSteps: string[];
  /** Why the run is failing (fail-plan or cancel), if it is: nothing new is dispatched then. */
  failing(): string | undefined;
  now(): number;
  /** Set a step's state and mark it to be written. */
  setState(id: string, state: StepState): void;
  /** A step finished: its successors may become ready; VM steps move the VM's machine. */
  finish(id: string, outcome: StepStatus): void;
  /** Dispatch this (pending) step at the next drain. */
  ready(id: string): void;
  vmEvent(vm: string, event: VmEvent): void;
  event(event: EngineEvent): void;
}

/** The step failed for good under `then: pause`: it waits for an operator; nothing else stops. */
export function pauseStep(
  t: OperatorTarget,
  id: string,
  attempt: number,
  error: { code: string; message: string; retryable: boolean },
): void {
  const step = t.graph.step(id);
  t.setState(id, { status: 'paused', attempt });
  t.paused.add(id);
  t.event({
    v: EVENT_SCHEMA_VERSION,
    at: new Date(t.now()).toISOString(),
    type: 'step-paused',
    execution: t.ctx.execution,
    step: id,
    site: step.site,
    attempt,
    error,
  });
  t.log.warn({ step: id, attempt, code: error.code }, 'step failed; paused for an operator');
}

/** Apply one operator command read from the completions stream. */
export function applyOperatorCommand(t: OperatorTarget, result: StepJobResult): void {
  const command = parseCommand(result);
  if (command === undefined) {
    t.log.warn({ result }, 'ignored a malformed operator command');
    return;
  }
  const at = new Date(t.now()).toISOString();
  const known = t.graph.steps.has(command.step);
  const state = known ? t.graph.state(command.step) : undefined;
  const refusal = refuse(t, command, state);
  const site = known ? t.graph.step(command.step).site : 'control';
  t.event({
    v: EVENT_SCHEMA_VERSION,
    at,
    type: 'operator-action',
    execution: t.ctx.execution,
    step: command.step,
    command: command.command,
    by: command.by,
    reason: command.reason,
    givenAt: command.givenAt,
    accepted: refusal === undefined,
    attempt: command.attempt,
    ...(refusal === undefined ? {} : { detail: refusal }),
  });
  if (refusal !== undefined || state === undefined) {
    t.log.warn({ step: command.step, command: command.command, by: command.by }, `refused: ${refusal}`);
    return;
  }
  t.log.info(
    { step: command.step, command: command.command, by: command.by, reason: command.reason },
    'operator command applied',
  );
  const step = t.graph.step(command.step);
  const operator = { by: command.by, reason: command.reason, at: command.givenAt };
  const finished = (outcome: 'done' | 'skipped', output: Record<string, unknown>): void => {
    t.event({
      v: EVENT_SCHEMA_VERSION,
      at,
      type: 'step-finished',
      execution: t.ctx.execution,
      step: step.id,
      site,
      outcome,
      attempt: state.attempt,
      output,
    });
    t.finish(step.id, outcome);
  };
  switch (command.command) {
    case 'approve':
      finished('done', { approvedBy: command.by, comment: command.reason, approvedAt: command.givenAt });
      return;
    case 'retry':
      t.paused.delete(step.id);
      if (state.status === 'failed') reopenDependents(t, step.id);
      t.setState(step.id, { status: 'pending', attempt: state.attempt + 1 });
      if (step.vm !== undefined && step.kind !== 'action')
        t.vmEvent(step.vm, { type: 'RETRY', kind: step.kind });
      t.ready(step.id);
      return;
    case 'skip':
    case 'done':
      t.paused.delete(step.id);
      if (state.status === 'failed') reopenDependents(t, step.id);
      // The VM's machine leaves `failed` as if the step had run, so its next steps can start.
      if (step.vm !== undefined && step.kind !== 'action')
        t.vmEvent(step.vm, { type: 'RETRY', kind: step.kind });
      finished(command.command === 'skip' ? 'skipped' : 'done', {
        operator: { command: command.command, ...operator },
      });
      return;
  }
}

/** Why a command does not apply to the step as it is now, or undefined when it does. */
function refuse(
  t: OperatorTarget,
  command: OperatorCommand,
  state: StepState | undefined,
): string | undefined {
  if (state === undefined) return `${command.step} is not a step of this execution`;
  if (command.command === 'approve') {
    if (state.status !== 'queued' || state.jobKey !== command.step)
      return `${command.step} is not waiting for approval (it is ${state.status})`;
    return undefined;
  }
  if (state.status === 'failed') {
    const why = failedStepRefusal(t.ctx, t.graph, command.step);
    if (why !== undefined) return why;
    if (t.failing() !== undefined) return `the run is failing (${t.failing()}): nothing new is dispatched`;
  } else if (state.status !== 'paused') {
    return `${command.step} is not paused or failed (it is ${state.status})`;
  }
  if (state.attempt !== command.attempt)
    return `${command.step} is at attempt ${state.attempt} now; the command was about attempt ${command.attempt}`;
  return undefined;
}

/**
 * A failed step an operator may act on: one that ran and failed under continue-without-dependents
 * (its dependents were failed with it; the rest of the run went on). Undefined when acceptable.
 */
export function failedStepRefusal(
  ctx: Pick<JobContext, 'plan' | 'vmsByName' | 'type'>,
  graph: StepGraph,
  id: string,
): string | undefined {
  const step = graph.step(id);
  const blockers = step.after.filter((p) => !releasesSuccessors(graph.state(p).status));
  if (blockers.length > 0)
    return `${id} never ran: it failed because ${blockers.join(', ')} did not succeed; act on that step instead`;
  const outcome = failurePolicyOf(ctx, step).outcome;
  if (outcome !== 'continue-without-dependents')
    return `${id} failed for good under its policy (then: ${outcome}); only a paused step, or one failed under continue-without-dependents, can be retried, skipped or done`;
  return undefined;
}

/**
 * Before a failed step is retried, skipped or done: its dependents that were failed with it
 * (continue-without-dependents) wait again, unless another failed step still stands in their way.
 */
function reopenDependents(t: OperatorTarget, id: string): void {
  const mine = new Set(t.graph.dependentsOf(id));
  const blocked = new Set<string>();
  for (const other of t.failedSteps) {
    if (other === id || mine.has(other)) continue;
    for (const d of t.graph.dependentsOf(other)) blocked.add(d);
  }
  const reopened = new Set([id]);
  for (const d of mine) {
    const state = t.graph.state(d);
    if (state.status !== 'failed' || blocked.has(d)) continue;
    t.setState(d, { status: 'pending', attempt: state.attempt });
    reopened.add(d);
  }
  const kept = t.failedSteps.filter((f) => !reopened.has(f));
  t.failedSteps.splice(0, t.failedSteps.length, ...kept);
}

/**
 * After each drain: the execution machine goes paused when a step waits for an operator and
 * back to running when none does; the status change is written with the batch.
 */
export function syncPaused(
  machine: ExecutionSnapshot,
  t: Pick<OperatorTarget, 'paused' | 'ctx'>,
  write: ProgressWrite,
  now: number,
): ExecutionSnapshot {
  const status = executionStatus(machine);
  const waiting = t.paused.size > 0;
  if (waiting ? status !== 'running' : status !== 'paused') return machine;
  const { snapshot, changed } = applyExecutionEvent(machine, { type: waiting ? 'PAUSE' : 'RESUME', now });
  if (!changed) return machine;
  const next = executionStatus(snapshot);
  write.meta.push([META.status, next], [META.machine, persistExecution(snapshot)]);
  const steps = [...t.paused];
  const detail = waiting
    ? `waiting for an operator: ${steps.join(', ')}; drctl status ${t.ctx.execution} says why, then drctl step retry|skip|done ${t.ctx.execution} <step> --reason "..."`
    : 'no step waits for an operator any more';
  write.events.push(
    JSON.stringify({
      v: EVENT_SCHEMA_VERSION,
      at: new Date(now).toISOString(),
      type: 'execution-status',
      execution: t.ctx.execution,
      status: next,
      detail,
    } satisfies EngineEvent),
  );
  return snapshot;
}

/** ` — <instruction>` of a manual action step (what the operator must check), for status lines. */
export function manualInstruction(
  ctx: Pick<JobContext, 'plan'>,
  step: { id: string; action?: string },
): string {
  const action = ctx.plan.actions.find((a) => a.name === step.action);
  const run = step.id.endsWith('/undo') ? action?.undo : action?.run;
  return run?.type === 'manual' ? ` — ${run.instruction}` : '';
}
