/**
 * An operator's commands about one step of a running execution: `approve` (a manual action),
 * `retry`, `skip`, `done` (a step paused under `then: pause`). Each is checked here against the
 * stored state (clear refusals, exit code 2), then written to the execution's completions stream,
 * where the orchestrator that drives the execution reads it like a worker's result and applies it
 * with the fenced record script (orchestrator/operator.ts), writing an `operator-action` event with
 * who, when and why. An execution that no orchestrator drives at the moment keeps the command in
 * the stream: the next orchestrator applies it when it resumes the execution.
 */
import type { Redis } from 'ioredis';
import { DrError } from '../../common/index.ts';
import type { OperatorCommandName } from '../../contract/index.ts';
import { didYouMean } from '../../plan/index.ts';
import type { RecoveryPlan } from '../../plan/types.ts';
import { decodeStepState, jobContext, StepGraph, type StepState } from '../../schedule/index.ts';
import { publishJobResult } from '../completions.ts';
import { parseEventEntry, type StoredEvent } from '../events.ts';
import { executionKeys } from '../keys.ts';
import { failedStepRefusal, type OperatorCommand, operatorCompletion } from '../orchestrator/operator.ts';
import type { CompileFn } from '../orchestrator/runner-deps.ts';
import { stepsFor } from '../orchestrator/steps-for.ts';
import { loadExecution, loadPlanSnapshot } from './execution-record.ts';

export interface OperatorRequest {
  execution: string;
  command: OperatorCommandName;
  /** A step id (`sql-01/readiness`, `action/update-dns`) or an action's name. */
  step: string;
  by: string;
  /** Why (retry/skip/done), or the approval's comment. */
  reason: string;
  /**
   * How long to wait for the orchestrator to apply it (0: do not wait).
   * @defaultValue 10_000
   */
  waitMs?: number;
  /**
   * The plan compiler: with it, a failed step is checked against the execution's step graph here
   * (a step that never ran is refused at once); without it, the orchestrator refuses it.
   */
  compile?: CompileFn;
}

export interface OperatorReceipt {
  execution: string;
  step: string;
  command: OperatorCommandName;
  by: string;
  reason: string;
  givenAt: string;
  /** The attempt the command is about. */
  attempt: number;
  /** The orchestrator applied it within the wait (accepted or refused); false: it is queued. */
  applied: boolean;
  accepted?: boolean;
  detail?: string;
}

/** Statuses during which an operator's command can still change something. */
const LIVE = new Set(['submitted', 'running', 'paused']);

function refusal(code: string, message: string): DrError {
  return new DrError(code, message, { exitCode: 2 });
}

/** Check the command against the stored state, record it, and wait (briefly) for it to be applied. */
export async function giveOperatorCommand(
  redis: Redis,
  prefix: string,
  request: OperatorRequest,
): Promise<OperatorReceipt> {
  const { execution, command } = request;
  const { record } = await loadExecution(redis, prefix, execution);
  const keys = executionKeys(prefix, execution);
  const step = await resolveStep(redis, prefix, execution, request.step);
  if (!LIVE.has(record.status)) {
    throw refusal(
      'EXECUTION_SETTLED',
      `execution ${execution} is ${record.status}: nothing waits for an operator any more, so ${command} ${step} would change nothing; see \`drctl status ${execution}\``,
    );
  }
  const state = decodeStepState((await redis.hget(keys.steps, step)) ?? undefined);
  checkState(execution, command, step, state);
  if (state.status === 'failed') {
    const plan = await loadPlanSnapshot(redis, prefix, execution);
    const ctx = jobContext({
      execution,
      epoch: record.epoch,
      type: record.type,
      direction: record.direction,
      plan,
    });
    if (request.compile !== undefined) {
      const graph = new StepGraph(stepsFor(plan, record, request.compile), await redis.hgetall(keys.steps));
      const why = failedStepRefusal(ctx, graph, step);
      if (why !== undefined) throw refusal('STEP_NOT_ACTIONABLE', `execution ${execution}: ${why}`);
    }
  }
  const givenAt = new Date().toISOString();
  const payload: OperatorCommand = {
    command,
    step,
    attempt: state.attempt,
    by: request.by,
    reason: request.reason,
    givenAt,
  };
  const lastEvent = (await redis.xrevrange(keys.events, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0';
  const { jobId, result } = operatorCompletion(payload);
  await publishJobResult(redis, prefix, execution, jobId, result);
  const receipt: OperatorReceipt = { execution, ...payload, applied: false };
  const deadline = Date.now() + (request.waitMs ?? 10_000);
  let after = lastEvent;
  while (Date.now() < deadline) {
    const entries = await redis.xrange(keys.events, `(${after}`, '+', 'COUNT', 1000);
    for (const [id, fields] of entries) {
      after = id;
      const { event } = parseEventEntry(execution, id, fields);
      if (
        event.type === 'operator-action' &&
        event.step === step &&
        event.command === command &&
        event.givenAt === givenAt
      ) {
        receipt.applied = true;
        receipt.accepted = event.accepted;
        if (event.detail !== undefined) receipt.detail = event.detail;
        return receipt;
      }
    }
    if (entries.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return receipt;
}

/** A step id as given, or `action/<name>` for an action's name; unknown names are refused. */
async function resolveStep(redis: Redis, prefix: string, execution: string, given: string): Promise<string> {
  const plan = await loadPlanSnapshot(redis, prefix, execution);
  if (plan.actions.some((a) => a.name === given)) {
    // An action's name: its step, or its undo step in an execution that runs the undo (a cancel).
    const [own, undo] = await redis.hmget(
      executionKeys(prefix, execution).steps,
      `action/${given}`,
      `action/${given}/undo`,
    );
    return own === null && undo !== null ? `action/${given}/undo` : `action/${given}`;
  }
  const slash = given.lastIndexOf('/');
  const head = slash > 0 ? given.slice(0, slash) : '';
  const known =
    (head === 'action' && plan.actions.some((a) => `action/${a.name}` === given)) ||
    (head === 'action' && plan.actions.some((a) => `action/${a.name}/undo` === given)) ||
    plan.vms.some((vm) => vm.name === head) ||
    given.startsWith('barrier/') ||
    (given.startsWith('action/') && given.endsWith('/undo'));
  if (known) return given;
  const paused = await pausedStepIds(redis, prefix, execution);
  // A typo of an action's name (approve) or of a step id: name the one it is closest to.
  const steps = await redis.hkeys(executionKeys(prefix, execution).steps);
  const suggestion = didYouMean(given, [...plan.actions.map((a) => a.name), ...steps]);
  throw refusal(
    'UNKNOWN_STEP',
    `execution ${execution} (plan ${plan.metadata.name}) has no step "${given}"${suggestion ? `: ${suggestion};` : ':'} steps are <vm>/<kind> (e.g. ${plan.vms[0]?.name ?? 'vm'}/failover) or action/<name>${paused.length > 0 ? `; paused now: ${paused.join(', ')}` : ''}`,
  );
}

function checkState(execution: string, command: OperatorCommandName, step: string, state: StepState): void {
  if (command === 'approve') {
    if (state.status === 'queued' && state.jobKey === step) return;
    throw refusal(
      'NOTHING_TO_APPROVE',
      `execution ${execution} is not waiting for approval of ${step} (it is ${state.status}); see \`drctl events ${execution}\``,
    );
  }
  if (state.status === 'paused' || state.status === 'failed') return;
  const why =
    state.status === 'pending'
      ? ' It has not run yet.'
      : state.status === 'queued'
        ? ' It is running (or waiting for approval: use `drctl approve`).'
        : '';
  throw refusal(
    'STEP_NOT_PAUSED',
    `${step} of execution ${execution} is ${state.status}, not paused: only a paused step (or one failed under continue-without-dependents) can be ${command === 'done' ? 'marked done' : command === 'skip' ? 'skipped' : 'retried'}.${why}`,
  );
}

/** Ids of the execution's steps paused for an operator. */
export async function pausedStepIds(redis: Redis, prefix: string, execution: string): Promise<string[]> {
  const steps = await redis.hgetall(executionKeys(prefix, execution).steps);
  return Object.entries(steps)
    .filter(([, value]) => decodeStepState(value).status === 'paused')
    .map(([id]) => id);
}

/** A paused step as `drctl status` shows it: why it stopped and what the operator can do. */
export interface PausedStep {
  step: string;
  attempt: number;
  site?: string;
  pausedAt?: string;
  error?: { code: string; message: string; retryable: boolean };
  commands: string[];
}

/** The paused steps with the failure that paused each (the newest `step-paused` event of each). */
export async function describePaused(redis: Redis, prefix: string, execution: string): Promise<PausedStep[]> {
  const ids = await pausedStepIds(redis, prefix, execution);
  if (ids.length === 0) return [];
  const keys = executionKeys(prefix, execution);
  const found = new Map<string, StoredEvent>();
  let before = '+';
  while (found.size < ids.length) {
    const entries = await redis.xrevrange(keys.events, before, '-', 'COUNT', 1000);
    for (const [id, fields] of entries) {
      const stored = parseEventEntry(execution, id, fields);
      if (
        stored.event.type === 'step-paused' &&
        ids.includes(stored.event.step) &&
        !found.has(stored.event.step)
      )
        found.set(stored.event.step, stored);
    }
    if (entries.length < 1000) break;
    before = `(${entries.at(-1)?.[0] ?? '0'}`;
  }
  const steps = await redis.hmget(keys.steps, ...ids);
  return ids.map((step, index) => {
    const state = decodeStepState(steps[index] ?? undefined);
    const event = found.get(step)?.event;
    const paused: PausedStep = {
      step,
      attempt: state.attempt,
      commands: ['retry', 'skip', 'done'].map(
        (command) => `drctl step ${command} ${execution} ${step} --reason "..."`,
      ),
    };
    if (event?.type === 'step-paused') {
      paused.site = event.site;
      paused.pausedAt = event.at;
      paused.error = event.error;
    }
    return paused;
  });
}

/** A manual action waiting for an operator's approval, as `drctl status` shows it. */
export interface AwaitedApproval {
  step: string;
  /** What the operator must check or do (the plan's `manual:` text). */
  instruction: string;
  command: string;
}

/** The manual actions the execution waits on. */
export async function describeApprovals(
  redis: Redis,
  prefix: string,
  execution: string,
  /** The execution's plan snapshot when the caller has it read already (a 10,000-VM plan is big). */
  snapshot?: RecoveryPlan,
): Promise<AwaitedApproval[]> {
  const plan = snapshot ?? (await loadPlanSnapshot(redis, prefix, execution));
  const manual = plan.actions.flatMap((a) => [
    ...(a.run.type === 'manual'
      ? [{ name: a.name, step: `action/${a.name}`, instruction: a.run.instruction }]
      : []),
    ...(a.undo?.type === 'manual'
      ? [{ name: a.name, step: `action/${a.name}/undo`, instruction: a.undo.instruction }]
      : []),
  ]);
  if (manual.length === 0) return [];
  const keys = executionKeys(prefix, execution);
  const states = await redis.hmget(keys.steps, ...manual.map((m) => m.step));
  return manual.flatMap((m, index) => {
    const state = decodeStepState(states[index] ?? undefined);
    if (state.status !== 'queued' || state.jobKey !== m.step) return [];
    return [
      {
        step: m.step,
        instruction: m.instruction,
        command: `drctl approve ${execution} ${m.name} --comment "..."`,
      },
    ];
  });
}
