/**
 * Submitting the lifecycle operations of a failover (`drctl commit | change-point | cancel |
 * reprotect`): each is an execution of its own (id `<failover>-<type>-<n>`) with the failover as
 * its `parent`, a plan snapshot cut down to the VMs it acts on, and a step graph from
 * orchestrator/lifecycle-steps.ts. The failover's machine moves first, with a compare-and-set, so
 * two operators (or two operations) can never act on one failover at once; whatever the machine
 * refuses is refused here with what to do instead.
 */
import type { Redis } from 'ioredis';
import { DrError } from '../../common/index.ts';
import { CANCEL_JOB_ID, type LifecycleType } from '../../contract/index.ts';
import {
  applyExecutionEvent,
  type ExecutionMachineEvent,
  PAST_POINT_OF_NO_RETURN,
  restoreExecution,
  restoreVm,
} from '../../machines/index.ts';
import type { RecoveryPlan, RecoveryPointChoice } from '../../plan/types.ts';
import {
  type HyperVReadApi,
  LifecycleBlockedError,
  type LifecycleReport,
  runLifecyclePreflight,
} from '../../preflight/index.ts';
import { decodeStepState, sitesOf } from '../../schedule/index.ts';
import { executionKeys } from '../keys.ts';
import { lifecycleSteps } from '../orchestrator/lifecycle-steps.ts';
import { acknowledgeDivergence, type DiscardDiverged, divergenceGate } from './divergence-gate.ts';
import { type ExecutionRecord, loadExecution, loadPlanSnapshot } from './execution-record.ts';
import { META } from './record.ts';
import { LuaScript } from './script.ts';
import { submitExecution } from './submit.ts';
import { transitionExecution } from './transition.ts';

/** Meta fields the lifecycle adds to a failover (and to its lifecycle executions). */
export const LIFECYCLE_META = {
  /** JSON LifecycleInfo on the failover. */
  lifecycle: 'lifecycle',
  /** On a running failover: why and by whom it is being cancelled (its runner stops dispatching). */
  cancelRequested: 'cancelRequested',
  /** JSON LifecycleRunInfo on a lifecycle execution. */
  run: 'lifecycleRun',
} as const;

export interface LifecycleRunRef {
  id: string;
  type: LifecycleType;
  at: string;
  by: string;
  reason: string;
  /** Change of point: the point asked for. */
  recoveryPoint?: RecoveryPointChoice;
}

/** What a failover's record says about its lifecycle. */
export interface LifecycleInfo {
  runs: LifecycleRunRef[];
  /** The lifecycle execution in progress (or last). */
  current?: string;
  /** VMs a commit was asked to complete (all failed-over VMs, or with --partial those only). */
  committed?: string[];
  /** VMs a partial commit left out, and why. */
  notCommitted?: { vm: string; reason: string }[];
  /** The rollback a cancel of the running failover will run once its jobs in flight end. */
  pendingCancel?: LifecycleRunRef;
}

/** What a lifecycle execution records about itself. */
export interface LifecycleRunInfo {
  parent: string;
  vms: string[];
  /** VMs of the plan it does not act on, and why. */
  skipped: { vm: string; reason: string }[];
  /** Cancel: actions that ran and have no `undo` (someone must undo them by hand). */
  notUndone?: string[];
  /** Cancel: actions that ran and are undone by their `undo`. */
  undone?: string[];
  partial?: boolean;
}

export interface LifecycleRequest {
  by: string;
  reason: string;
  now?: () => number;
  /**
   * Read access to the sites' hosts: each operation's pre-flight (engine/preflight lifecycle.ts)
   * reads them before anything changes, and refuses (LifecycleBlockedError, exit 1) unless every
   * VM can finish. `null` is allowed for one caller only: the engine's own reprotect after a failback
   * (`thenReprotect`), stored by an orchestrator that has no read access to the hosts; that reprotect
   * rests on the failback's pre-flight, which just ran against the same sites, and on its handlers'
   * state checks. Any other operation without hosts is refused.
   */
  hosts: HyperVReadApi | null;
  /** Pre-flight only (`--dry-run`): the report comes back in `preflight`, nothing is changed. */
  dryRun?: boolean;
}

export interface LifecycleSubmitted {
  id: string;
  created: boolean;
  /** The pre-flight that let it start (or, with `dryRun`, the one that would have). */
  preflight?: LifecycleReport;
  /** True for a dry run: nothing was stored or changed. */
  dryRun?: boolean;
  /** Set when a running failover was asked to stop first: its rollback starts once it settles. */
  pendingCancelOf?: string;
  run?: LifecycleRunInfo;
}

const FAILOVER_STATUSES_RUNNING = ['submitted', 'running', 'paused'];

export function lifecycleIdOf(parent: string, type: LifecycleType, n: number): string {
  return `${parent}-${type}-${n}`;
}

export async function readLifecycle(redis: Redis, prefix: string, execution: string): Promise<LifecycleInfo> {
  const raw = await redis.hget(executionKeys(prefix, execution).meta, LIFECYCLE_META.lifecycle);
  return raw ? (JSON.parse(raw) as LifecycleInfo) : { runs: [] };
}

export async function readLifecycleRun(
  redis: Redis,
  prefix: string,
  execution: string,
): Promise<LifecycleRunInfo | undefined> {
  const raw = await redis.hget(executionKeys(prefix, execution).meta, LIFECYCLE_META.run);
  return raw ? (JSON.parse(raw) as LifecycleRunInfo) : undefined;
}

/** Whether a failover may still be cancelled, for `drctl status`. */
export function pointOfNoReturn(record: ExecutionRecord): { passed: boolean; why: string } {
  if (PAST_POINT_OF_NO_RETURN.includes(record.status)) {
    return {
      passed: true,
      why: `passed (${record.status}): cancel refuses; the way back is \`drctl reprotect\` then \`drctl failback\``,
    };
  }
  if (record.status === 'cancelled' || record.status === 'cancelling')
    return { passed: false, why: `not passed (${record.status})` };
  return {
    passed: false,
    why: 'not passed: `drctl cancel` rolls it back; it is passed once a commit starts or replication is reversed',
  };
}

async function loadFailover(
  redis: Redis,
  prefix: string,
  id: string,
  what: string,
): Promise<{ record: ExecutionRecord; fields: Record<string, string> }> {
  const loaded = await loadExecution(redis, prefix, id);
  const { record } = loaded;
  if (record.type !== 'planned' && record.type !== 'unplanned') {
    const hint =
      record.type === 'test'
        ? `a drill is ended with \`drctl cleanup ${id}\``
        : record.parent
          ? `act on its failover ${record.parent}`
          : 'pick a planned or unplanned failover (`drctl status`)';
    throw new DrError(
      'NOT_A_FAILOVER',
      `execution ${id} is a ${record.type} execution; ${what} applies to a planned or unplanned failover — ${hint}`,
      {
        exitCode: 2,
      },
    );
  }
  return { record, fields: loaded.fields };
}

/** Per VM of the failover: did its failover step finish (the VM runs at the recovery site)? */
async function failoverOutcome(
  redis: Redis,
  prefix: string,
  id: string,
  plan: RecoveryPlan,
): Promise<{
  failedOver: string[];
  notFailedOver: { vm: string; reason: string }[];
  touched: string[];
  actionsRan: string[];
}> {
  const keys = executionKeys(prefix, id);
  const [steps, vms] = await Promise.all([redis.hgetall(keys.steps), redis.hgetall(keys.vms)]);
  const failedOver: string[] = [];
  const notFailedOver: { vm: string; reason: string }[] = [];
  const touched: string[] = [];
  // The recorded steps of each VM (`<vm>/<kind>`), in one pass: 10,000 VMs have 40,000 steps.
  const byVm = new Map<string, { step: string; status: string }[]>();
  for (const [step, value] of Object.entries(steps)) {
    const slash = step.lastIndexOf('/');
    if (slash <= 0 || step.startsWith('action/') || step.startsWith('barrier/')) continue;
    const vm = step.slice(0, slash);
    const list = byVm.get(vm) ?? [];
    list.push({ step, status: decodeStepState(value).status });
    byVm.set(vm, list);
  }
  for (const vm of plan.vms) {
    const mine = byVm.get(vm.name) ?? [];
    const failover = decodeStepState(steps[`${vm.name}/failover`]).status;
    const failedStep = mine.find((s) => s.status === 'failed' || s.status === 'paused');
    // Failed over: its failover step is done. Failed: a step failed or it never failed over (a VM
    // that failed over but never became ready is one a commit must not take silently).
    if (failover === 'done' || failover === 'warned') failedOver.push(vm.name);
    if ((failover !== 'done' && failover !== 'warned') || failedStep !== undefined) {
      const json = vms[vm.name];
      const error = json ? restoreVm(json).context.error : undefined;
      notFailedOver.push({
        vm: vm.name,
        reason: error
          ? `${error.step}: ${error.code}: ${error.message}`
          : failedStep
            ? `${failedStep.step} ${failedStep.status}`
            : `its failover step is ${failover}`,
      });
    }
    if (mine.some((s) => s.status !== 'pending')) touched.push(vm.name);
  }
  const actionsRan = plan.actions
    .filter((a) => {
      const status = decodeStepState(steps[`action/${a.name}`]).status;
      return status === 'done' || status === 'warned';
    })
    .map((a) => a.name);
  return { failedOver, notFailedOver, touched, actionsRan };
}

/** The failover's plan cut down to `vms` (dependencies and groups among them) and `actions`. */
export function subsetPlan(
  plan: RecoveryPlan,
  vms: readonly string[],
  actions: readonly string[] = [],
): RecoveryPlan {
  const keep = new Set(vms);
  const keepActions = new Set(actions);
  return {
    ...plan,
    vms: plan.vms
      .filter((v) => keep.has(v.name))
      .map((v) => ({ ...v, dependsOn: v.dependsOn.filter((d) => keep.has(d)) })),
    groups: plan.groups.map((g) => ({ ...g, vms: g.vms.filter((v) => keep.has(v)) })),
    actions: plan.actions.filter((a) => keepActions.has(a.name)),
  };
}

const START_EVENT: Record<LifecycleType, ExecutionMachineEvent['type']> = {
  commit: 'COMMIT_STARTED',
  'change-point': 'CHANGE_POINT_STARTED',
  cancel: 'CANCEL_STARTED',
  reprotect: 'REPROTECT_STARTED',
};

/** The failover's status while this operation runs. */
const RUNNING_STATUS: Record<LifecycleType, string> = {
  commit: 'committing',
  'change-point': 'changing-point',
  cancel: 'cancelling',
  reprotect: 'reprotecting',
};

interface StartOptions {
  type: LifecycleType;
  record: ExecutionRecord;
  info: LifecycleInfo;
  plan: RecoveryPlan;
  run: LifecycleRunInfo;
  recoveryPoint?: RecoveryPointChoice;
  /** Extra changes of the failover's LifecycleInfo. */
  update?: Partial<LifecycleInfo>;
  request: LifecycleRequest;
  /** Absent only for a failback's own reprotect stored without hosts (LifecycleRequest.hosts). */
  preflight: LifecycleReport | undefined;
}

/** Move the failover's machine (CAS), then submit the lifecycle execution. */
async function startLifecycle(
  redis: Redis,
  prefix: string,
  options: StartOptions,
): Promise<LifecycleSubmitted> {
  const { type, record, info, request } = options;
  const now = (request.now ?? Date.now)();
  const id = lifecycleIdOf(record.id, type, info.runs.length + 1);
  const ref: LifecycleRunRef = {
    id,
    type,
    at: new Date(now).toISOString(),
    by: request.by,
    reason: request.reason,
    ...(options.recoveryPoint ? { recoveryPoint: options.recoveryPoint } : {}),
  };
  const next: LifecycleInfo = { ...info, ...options.update, runs: [...info.runs, ref], current: id };
  const moved = await transitionExecution(
    redis,
    prefix,
    record.id,
    { type: START_EVENT[type], now } as ExecutionMachineEvent,
    [[LIFECYCLE_META.lifecycle, JSON.stringify(next)]],
  );
  if (moved === undefined) {
    const { record: now2 } = await loadExecution(redis, prefix, record.id);
    throw refusal(type, now2, info);
  }
  const submitted = await submitRun(
    redis,
    prefix,
    id,
    type,
    record,
    options.plan,
    options.run,
    request,
    options.recoveryPoint,
  );
  return options.preflight ? { ...submitted, preflight: options.preflight } : submitted;
}

async function submitRun(
  redis: Redis,
  prefix: string,
  id: string,
  type: LifecycleType,
  record: ExecutionRecord,
  plan: RecoveryPlan,
  run: LifecycleRunInfo,
  request: Pick<LifecycleRequest, 'by' | 'reason' | 'now'>,
  recoveryPoint?: RecoveryPointChoice,
): Promise<LifecycleSubmitted> {
  const steps = lifecycleSteps(type, plan, sitesOf({ plan, direction: record.direction }));
  let estimateMs = 0;
  for (const step of steps.values()) estimateMs = Math.max(estimateMs, step.estimateMs);
  const submitted = await submitExecution(redis, prefix, {
    id,
    type,
    direction: record.direction,
    plan,
    hash: record.hash,
    by: request.by,
    reason: request.reason,
    parent: record.id,
    stepsTotal: steps.size,
    estimateMs,
    ...(recoveryPoint ? { recoveryPoint } : {}),
    ...(request.now ? { now: request.now } : {}),
  });
  if (submitted.created) {
    await redis.hset(executionKeys(prefix, id).meta, LIFECYCLE_META.run, JSON.stringify(run));
  }
  return { id, created: submitted.created, run };
}

function refusal(type: LifecycleType, record: ExecutionRecord, info: LifecycleInfo): DrError {
  const id = record.id;
  const status = record.status;
  const current = info.current ? ` (${info.current})` : '';
  if (FAILOVER_STATUSES_RUNNING.includes(status)) {
    return new DrError(
      'FAILOVER_RUNNING',
      `failover ${id} is still ${status}; ${type === 'cancel' ? 'it is being cancelled' : `wait for it to finish (\`drctl status ${id}\`) or cancel it (\`drctl cancel ${id}\`)`}`,
      { exitCode: 2, retryable: true },
    );
  }
  if (['committing', 'changing-point', 'cancelling', 'reprotecting'].includes(status)) {
    return new DrError(
      'LIFECYCLE_BUSY',
      `failover ${id} is ${status}${current}; wait for it to end (\`drctl status ${info.current ?? id}\`) before the ${type}`,
      { exitCode: 2, retryable: true },
    );
  }
  if (status === 'cancelled') {
    return new DrError(
      'FAILOVER_CANCELLED',
      `failover ${id} was cancelled${current}: its VMs are back at their source; there is nothing to ${type}`,
      {
        exitCode: 2,
      },
    );
  }
  if (type === 'cancel' || type === 'change-point') {
    return new DrError(
      'PAST_POINT_OF_NO_RETURN',
      `failover ${id} is ${status}: past the point of no return (a commit ran or the replication was reversed), so ${type === 'cancel' ? 'it cannot be cancelled' : 'its other recovery points are gone'}; the way back is a failback: \`drctl reprotect <plan.yaml>\`, then \`drctl failback <plan.yaml>\``,
      { exitCode: 2 },
    );
  }
  if (type === 'reprotect' && status === 'failed') {
    return new DrError(
      'FAILOVER_INCOMPLETE',
      `failover ${id} failed for some VMs; commit the ones that failed over first (\`drctl commit ${id} --partial\`) or cancel it (\`drctl cancel ${id}\`)`,
      { exitCode: 2 },
    );
  }
  if (type === 'commit' && status === 'reprotected') {
    return new DrError(
      'ALREADY_REPROTECTED',
      `failover ${id} is reprotected: its failover was completed by the reverse`,
      { exitCode: 2 },
    );
  }
  return new DrError('LIFECYCLE_REFUSED', `failover ${id} is ${status}; a ${type} does not apply now`, {
    exitCode: 2,
  });
}

/**
 * Refuse now, before pre-flight reads anything, what the failover's machine would refuse (a
 * failover still running, past its point of no return, busy with another operation).
 */
function requireAccepted(
  type: LifecycleType,
  record: ExecutionRecord,
  fields: Record<string, string>,
  info: LifecycleInfo,
  now: number,
): void {
  const stored = fields[META.machine];
  const accepted =
    stored !== undefined &&
    applyExecutionEvent(restoreExecution(stored), { type: START_EVENT[type], now } as ExecutionMachineEvent)
      .changed;
  if (!accepted) throw refusal(type, record, info);
}

/**
 * The gate in front of a lifecycle operation: its pre-flight against the hosts. Blockers throw
 * LifecycleBlockedError (nothing was changed); a dry run returns the report instead of going on.
 */
async function gate(
  redis: Redis,
  prefix: string,
  type: LifecycleType,
  record: ExecutionRecord,
  info: LifecycleInfo,
  plan: RecoveryPlan,
  vms: readonly string[],
  request: LifecycleRequest & { recoveryPoint?: RecoveryPointChoice; partial?: boolean },
): Promise<LifecycleReport> {
  if (record.type !== 'planned' && record.type !== 'unplanned') throw new Error('not a failover');
  if (request.hosts === null) {
    throw new DrError(
      'NO_HOSTS',
      `${type} of ${record.id}: its pre-flight needs read access to the sites' hosts`,
      {
        exitCode: 2,
      },
    );
  }
  const sites = sitesOf({ plan, direction: record.direction });
  const report = await runLifecyclePreflight(request.hosts, {
    operation: type,
    execution: record.id,
    failoverType: record.type,
    failoverEpoch: await newestEpoch(redis, prefix, record, info),
    plan,
    ...sites,
    vms,
    ...(request.recoveryPoint ? { recoveryPoint: request.recoveryPoint } : {}),
    ...(request.partial ? { partial: true } : {}),
  });
  if (!report.ok) throw new LifecycleBlockedError(report);
  return report;
}

/**
 * The newest epoch this failover's own executions ran under (it, and its lifecycle runs: a
 * cancel that failed half-way and is asked again). A VM that accepted a newer one was acted on by
 * another execution since.
 */
async function newestEpoch(
  redis: Redis,
  prefix: string,
  record: ExecutionRecord,
  info: LifecycleInfo,
): Promise<number> {
  if (info.runs.length === 0) return record.epoch;
  const pipeline = redis.pipeline();
  for (const run of info.runs) pipeline.hget(executionKeys(prefix, run.id).meta, META.epoch);
  let newest = record.epoch;
  for (const [, value] of (await pipeline.exec()) ?? []) {
    const epoch = Number(value);
    if (Number.isSafeInteger(epoch) && epoch > newest) newest = epoch;
  }
  return newest;
}

function dryRunAnswer(
  record: ExecutionRecord,
  info: LifecycleInfo,
  type: LifecycleType,
  report: LifecycleReport | undefined,
  run: LifecycleRunInfo,
): LifecycleSubmitted {
  return {
    id: lifecycleIdOf(record.id, type, info.runs.length + 1),
    created: false,
    dryRun: true,
    preflight: report,
    run,
  };
}

/** An operation already in progress for this failover: answer with it instead of a second one. */
async function inProgress(
  redis: Redis,
  prefix: string,
  type: LifecycleType,
  record: ExecutionRecord,
  info: LifecycleInfo,
  request: LifecycleRequest,
): Promise<LifecycleSubmitted | undefined> {
  if (record.status !== RUNNING_STATUS[type] || info.current === undefined) return undefined;
  const exists = await redis.exists(executionKeys(prefix, info.current).meta);
  if (exists === 1) return { id: info.current, created: false };
  // The failover moved but its execution was never stored (a crash in between): store it now.
  const plan = await loadPlanSnapshot(redis, prefix, record.id);
  return await resubmitCurrent(redis, prefix, type, record, info, plan, request);
}

async function resubmitCurrent(
  redis: Redis,
  prefix: string,
  type: LifecycleType,
  record: ExecutionRecord,
  info: LifecycleInfo,
  plan: RecoveryPlan,
  request: LifecycleRequest,
): Promise<LifecycleSubmitted> {
  const outcome = await failoverOutcome(redis, prefix, record.id, plan);
  const built = buildRun(type, record, plan, outcome, info, true);
  const ref = info.runs.find((r) => r.id === info.current);
  return await submitRun(
    redis,
    prefix,
    info.current ?? '',
    type,
    record,
    built.plan,
    built.run,
    ref ? { by: ref.by, reason: ref.reason } : request,
    ref?.recoveryPoint,
  );
}

function buildRun(
  type: LifecycleType,
  record: ExecutionRecord,
  plan: RecoveryPlan,
  outcome: Awaited<ReturnType<typeof failoverOutcome>>,
  info: LifecycleInfo,
  partial: boolean,
): { plan: RecoveryPlan; run: LifecycleRunInfo } {
  const all = plan.vms.map((v) => v.name);
  const skippedOf = (
    vms: readonly string[],
    why: (vm: string) => string,
  ): { vm: string; reason: string }[] => {
    const kept = new Set(vms);
    return all.filter((vm) => !kept.has(vm)).map((vm) => ({ vm, reason: why(vm) }));
  };
  const failed = new Map(outcome.notFailedOver.map((n) => [n.vm, n.reason]));
  const notCommitted = new Map((info.notCommitted ?? []).map((n) => [n.vm, n.reason]));
  const notFailedOverReason = (vm: string): string => failed.get(vm) ?? 'not failed over';
  switch (type) {
    case 'commit':
    case 'change-point': {
      // A commit takes the VMs that came up; a change of point re-runs every VM that failed over.
      const vms = type === 'commit' ? outcome.failedOver.filter((vm) => !failed.has(vm)) : outcome.failedOver;
      return {
        plan: subsetPlan(plan, vms),
        run: {
          parent: record.id,
          vms,
          skipped: skippedOf(vms, notFailedOverReason),
          ...(partial ? { partial: true } : {}),
        },
      };
    }
    case 'reprotect': {
      const vms = info.committed ?? outcome.failedOver;
      return {
        plan: subsetPlan(plan, vms),
        run: {
          parent: record.id,
          vms,
          skipped: skippedOf(vms, (vm) => notCommitted.get(vm) ?? notFailedOverReason(vm)),
        },
      };
    }
    case 'cancel': {
      const vms = outcome.touched;
      const undone = outcome.actionsRan.filter(
        (a) => plan.actions.find((p) => p.name === a)?.undo !== undefined,
      );
      const notUndone = outcome.actionsRan.filter((a) => !undone.includes(a));
      return {
        plan: subsetPlan(plan, vms, undone),
        run: {
          parent: record.id,
          vms,
          skipped: skippedOf(vms, () => 'nothing of its failover ran'),
          undone,
          notUndone,
        },
      };
    }
  }
}

/** A built run less the VMs pre-flight left out (commit --partial), recorded as skipped. */
function leaveOut(
  plan: RecoveryPlan,
  built: { plan: RecoveryPlan; run: LifecycleRunInfo },
  leftOut: readonly { vm: string; reason: string }[],
): { plan: RecoveryPlan; run: LifecycleRunInfo } {
  const out = new Set(leftOut.map((l) => l.vm));
  const vms = built.run.vms.filter((vm) => !out.has(vm));
  return {
    plan: subsetPlan(plan, vms),
    run: { ...built.run, vms, skipped: [...built.run.skipped, ...leftOut], partial: true },
  };
}

/**
 * `drctl commit`: Complete-VMFailover on every VM the failover brought up. When some VMs did not
 * fail over, it refuses (naming them) unless `partial`, and then records which it committed.
 */
export async function submitCommit(
  redis: Redis,
  prefix: string,
  failover: string,
  request: LifecycleRequest & { partial?: boolean },
): Promise<LifecycleSubmitted> {
  const { record, fields } = await loadFailover(redis, prefix, failover, 'commit');
  const info = await readLifecycle(redis, prefix, failover);
  const busy = await inProgress(redis, prefix, 'commit', record, info, request);
  if (busy) return busy;
  if (record.status === 'committed') {
    const last = [...info.runs].reverse().find((r) => r.type === 'commit');
    return { id: last?.id ?? failover, created: false };
  }
  requireAccepted('commit', record, fields, info, (request.now ?? Date.now)());
  const plan = await loadPlanSnapshot(redis, prefix, failover);
  const outcome = await failoverOutcome(redis, prefix, failover, plan);
  if (record.status === 'completed' || record.status === 'failed' || record.status === 'commit-failed') {
    const failed = new Set(outcome.notFailedOver.map((n) => n.vm));
    if (outcome.failedOver.every((vm) => failed.has(vm))) {
      throw new DrError(
        'NOTHING_TO_COMMIT',
        `failover ${failover} brought no VM up; nothing to commit — cancel it (\`drctl cancel ${failover}\`)`,
        {
          exitCode: 2,
        },
      );
    }
    if (outcome.notFailedOver.length > 0 && !request.partial) {
      const lines = outcome.notFailedOver.map((n) => `  ${n.vm}: ${n.reason}`).join('\n');
      throw new DrError(
        'COMMIT_PARTIAL',
        `failover ${failover}: ${outcome.notFailedOver.length} of ${plan.vms.length} VMs failed, so a commit would leave them behind:\n${lines}\ncommit the ${plan.vms.length - outcome.notFailedOver.length} that came up with \`drctl commit ${failover} --partial\`, fail the others over again, or cancel (\`drctl cancel ${failover}\`)`,
        { exitCode: 2, details: { notFailedOver: outcome.notFailedOver } },
      );
    }
  }
  const first = buildRun(
    'commit',
    record,
    plan,
    outcome,
    info,
    request.partial === true && outcome.notFailedOver.length > 0,
  );
  const report = await gate(redis, prefix, 'commit', record, info, plan, first.run.vms, request);
  // With --partial, pre-flight leaves out the VMs that are not up (and names them).
  const built = report.leftOut.length > 0 ? leaveOut(plan, first, report.leftOut) : first;
  if (built.run.vms.length === 0) {
    throw new DrError(
      'NOTHING_TO_COMMIT',
      `failover ${failover}: no VM is up to commit — ${report.leftOut.map((l) => l.reason).join('; ')}`,
      { exitCode: 1 },
    );
  }
  if (request.dryRun) return dryRunAnswer(record, info, 'commit', report, built.run);
  return await startLifecycle(redis, prefix, {
    preflight: report,
    type: 'commit',
    record,
    info,
    plan: built.plan,
    run: built.run,
    update: { committed: built.run.vms, notCommitted: built.run.skipped },
    request,
  });
}

/**
 * `drctl change-point`: before commit, fail the VMs over again from another recovery point (off,
 * Stop-VMFailover, Start-VMFailover from the point, boot in dependency order).
 */
export async function submitChangePoint(
  redis: Redis,
  prefix: string,
  failover: string,
  request: LifecycleRequest & { recoveryPoint: RecoveryPointChoice },
): Promise<LifecycleSubmitted> {
  const { record, fields } = await loadFailover(redis, prefix, failover, 'change-point');
  const info = await readLifecycle(redis, prefix, failover);
  const busy = await inProgress(redis, prefix, 'change-point', record, info, request);
  if (busy) return busy;
  requireAccepted('change-point', record, fields, info, (request.now ?? Date.now)());
  const plan = await loadPlanSnapshot(redis, prefix, failover);
  const outcome = await failoverOutcome(redis, prefix, failover, plan);
  if ((record.status === 'completed' || record.status === 'failed') && outcome.failedOver.length === 0) {
    throw new DrError(
      'NOTHING_FAILED_OVER',
      `failover ${failover} brought no VM up; there is no recovery point to change`,
      { exitCode: 2 },
    );
  }
  const built = buildRun('change-point', record, plan, outcome, info, false);
  const report = await gate(redis, prefix, 'change-point', record, info, plan, built.run.vms, request);
  if (request.dryRun) return dryRunAnswer(record, info, 'change-point', report, built.run);
  return await startLifecycle(redis, prefix, {
    preflight: report,
    type: 'change-point',
    record,
    info,
    plan: built.plan,
    run: built.run,
    recoveryPoint: request.recoveryPoint,
    request,
  });
}

const REQUEST_CANCEL = new LuaScript(
  `
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'submitted' and status ~= 'running' and status ~= 'paused' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
redis.call('XADD', KEYS[2], '*', 'j', ARGV[5], 'r', ARGV[6])
return 1`,
  2,
);

/**
 * `drctl cancel`: roll a failover back before its point of no return. A failover still running is
 * first told to stop dispatching (its runner settles once its jobs in flight end, then submits the
 * rollback itself, finish.ts); a settled one gets its rollback now.
 */
export async function submitCancel(
  redis: Redis,
  prefix: string,
  failover: string,
  request: LifecycleRequest,
): Promise<LifecycleSubmitted> {
  const { record, fields } = await loadFailover(redis, prefix, failover, 'cancel');
  const info = await readLifecycle(redis, prefix, failover);
  if (record.status === 'cancelled') return { id: info.current ?? failover, created: false };
  if (FAILOVER_STATUSES_RUNNING.includes(record.status)) {
    if (info.pendingCancel) return { id: info.pendingCancel.id, created: false, pendingCancelOf: failover };
    // Still running: any VM may have been touched by the time it stops, so all of them are checked.
    const plan = await loadPlanSnapshot(redis, prefix, failover);
    const report = await gate(
      redis,
      prefix,
      'cancel',
      record,
      info,
      plan,
      plan.vms.map((v) => v.name),
      request,
    );
    if (request.dryRun) {
      const outcome = await failoverOutcome(redis, prefix, failover, plan);
      return dryRunAnswer(
        record,
        info,
        'cancel',
        report,
        buildRun('cancel', record, plan, outcome, info, false).run,
      );
    }
    const now = (request.now ?? Date.now)();
    const id = lifecycleIdOf(failover, 'cancel', info.runs.length + 1);
    const ref: LifecycleRunRef = {
      id,
      type: 'cancel',
      at: new Date(now).toISOString(),
      by: request.by,
      reason: request.reason,
    };
    const keys = executionKeys(prefix, failover);
    const at = new Date(now).toISOString();
    const reason = `${request.by}: ${request.reason}`;
    const marker = {
      v: 1,
      steps: [{ id: CANCEL_JOB_ID, outcome: 'done', startedAt: at, endedAt: at, output: { reason } }],
    };
    const ok = await REQUEST_CANCEL.run(redis, [
      keys.meta,
      keys.completions,
      LIFECYCLE_META.cancelRequested,
      reason,
      LIFECYCLE_META.lifecycle,
      JSON.stringify({ ...info, pendingCancel: ref }),
      CANCEL_JOB_ID,
      JSON.stringify(marker),
    ]);
    if (ok === 1) return { id, created: true, pendingCancelOf: failover, preflight: report };
    // It settled meanwhile: cancel it as a settled failover.
    return await submitCancel(redis, prefix, failover, request);
  }
  if (record.status === 'cancelling' && info.pendingCancel) {
    // Settled after a cancel while it ran, its rollback not stored yet (its orchestrator stopped
    // in between): store it now.
    const pending = await submitPendingCancel(redis, prefix, failover, request.now ?? Date.now);
    if (pending) return pending;
  }
  const busy = await inProgress(redis, prefix, 'cancel', record, info, request);
  if (busy) return busy;
  requireAccepted('cancel', record, fields, info, (request.now ?? Date.now)());
  const plan = await loadPlanSnapshot(redis, prefix, failover);
  const outcome = await failoverOutcome(redis, prefix, failover, plan);
  const built = buildRun('cancel', record, plan, outcome, info, false);
  const report = await gate(redis, prefix, 'cancel', record, info, plan, built.run.vms, request);
  if (request.dryRun) return dryRunAnswer(record, info, 'cancel', report, built.run);
  return await startLifecycle(redis, prefix, {
    preflight: report,
    type: 'cancel',
    record,
    info,
    plan: built.plan,
    run: built.run,
    request,
  });
}

/**
 * The rollback of a failover whose cancel was requested while it ran, once it has settled
 * (`cancelling`): called by the orchestrator that finished it (finish.ts). Idempotent.
 */
export async function submitPendingCancel(
  redis: Redis,
  prefix: string,
  failover: string,
  now: () => number,
): Promise<LifecycleSubmitted | undefined> {
  const info = await readLifecycle(redis, prefix, failover);
  const pending = info.pendingCancel;
  if (pending === undefined) return undefined;
  const { record } = await loadExecution(redis, prefix, failover);
  const plan = await loadPlanSnapshot(redis, prefix, failover);
  const outcome = await failoverOutcome(redis, prefix, failover, plan);
  const built = buildRun('cancel', record, plan, outcome, info, false);
  const next: LifecycleInfo = { ...info, runs: [...info.runs, pending], current: pending.id };
  delete next.pendingCancel;
  const submitted = await submitRun(redis, prefix, pending.id, 'cancel', record, built.plan, built.run, {
    by: pending.by,
    reason: pending.reason,
    now,
  });
  await redis.hset(executionKeys(prefix, failover).meta, LIFECYCLE_META.lifecycle, JSON.stringify(next));
  return submitted;
}

/**
 * `drctl reprotect <plan>`: reverse the replication of every VM the plan's last failover brought
 * up (only the committed ones after a partial commit), and follow it until healthy.
 */
export async function submitReprotect(
  redis: Redis,
  prefix: string,
  failover: string,
  request: LifecycleRequest & {
    /** Leave to overwrite the writes of old primaries that ran in two sites (divergence-gate.ts). */
    discardDiverged?: DiscardDiverged;
  },
): Promise<LifecycleSubmitted> {
  const { record, fields } = await loadFailover(redis, prefix, failover, 'reprotect');
  const info = await readLifecycle(redis, prefix, failover);
  const busy = await inProgress(redis, prefix, 'reprotect', record, info, request);
  if (busy) return busy;
  if (record.status === 'reprotected') {
    const last = [...info.runs].reverse().find((r) => r.type === 'reprotect');
    return { id: last?.id ?? failover, created: false };
  }
  requireAccepted('reprotect', record, fields, info, (request.now ?? Date.now)());
  const plan = await loadPlanSnapshot(redis, prefix, failover);
  const outcome = await failoverOutcome(redis, prefix, failover, plan);
  const built = buildRun('reprotect', record, plan, outcome, info, false);
  if (built.run.vms.length === 0) {
    throw new DrError('NOTHING_TO_REPROTECT', `failover ${failover} brought no VM up; nothing to reprotect`, {
      exitCode: 2,
    });
  }
  // Refused, changing nothing, while an old primary's diverged writes would be overwritten unasked:
  // first, as it names what would be lost (the sites' pre-flight would only see them running).
  const discarded = await divergenceGate(redis, prefix, failover, built.run.vms, request.discardDiverged);
  // A failback's own reprotect, stored by the engine without hosts, rests on the failback's pre-flight.
  const followUp = request.hosts === null && record.thenReprotect === true && !request.dryRun;
  const report = followUp
    ? undefined
    : await gate(redis, prefix, 'reprotect', record, info, plan, built.run.vms, request);
  if (request.dryRun) return dryRunAnswer(record, info, 'reprotect', report, built.run);
  const submitted = await startLifecycle(redis, prefix, {
    preflight: report,
    type: 'reprotect',
    record,
    info,
    plan: built.plan,
    run: built.run,
    request,
  });
  if (request.discardDiverged !== undefined)
    await acknowledgeDivergence(redis, prefix, failover, submitted.id, discarded, request.discardDiverged);
  return submitted;
}

/**
 * The failover a plan-level command (`reprotect`, `failback`) acts on: the newest planned or
 * unplanned execution of the plan, in either direction, that was not cancelled.
 */
export async function latestFailoverOf(
  redis: Redis,
  prefix: string,
  planName: string,
  options: { scan?: number } = {},
): Promise<ExecutionRecord | undefined> {
  const ids = await redis.zrevrange(`${prefix}:executions`, 0, (options.scan ?? 500) - 1);
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hmget(executionKeys(prefix, id).meta, META.type, META.planName, META.status);
  const replies = (await pipeline.exec()) ?? [];
  for (const [index, [, value]] of replies.entries()) {
    const [type, plan, status] = (value as (string | null)[] | null) ?? [];
    if (plan !== planName || (type !== 'planned' && type !== 'unplanned')) continue;
    // A cancelled failover left things as they were before it: the one before it tells.
    if (status === 'cancelled') continue;
    const id = ids[index];
    if (id !== undefined) return (await loadExecution(redis, prefix, id)).record;
  }
  return undefined;
}
