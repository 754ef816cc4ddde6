/**
 * From a planned job to the BullMQ job a site worker runs: queue, deterministic id and payload.
 * Everything comes from the execution's stored snapshot, never from the plan file.
 */

import {
  type AutomaticStartActionName,
  CONTROL_QUEUE,
  type ExecutionType,
  type StepJobData,
  type StepJobResult,
  siteQueueName,
  stepJobId,
} from '../contract/index.ts';
import type { Direction, PlanStep, PlanVm, RecoveryPlan, RecoveryPointChoice } from '../plan/types.ts';
import type { PlannedBatch, PlannedJob } from './step-graph.ts';

/** What every job of one execution shares. */
export interface JobContext {
  execution: string;
  epoch: number;
  type: ExecutionType;
  direction: Direction;
  plan: RecoveryPlan;
  /** Recovery point chosen at run time (unplanned), overriding the plan's. */
  recoveryPoint?: RecoveryPointChoice;
  vmsByName: ReadonlyMap<string, PlanVm>;
  /** Manual actions count as approved. */
  approveManual?: boolean;
  /**
   * A cancel's second fencing token, newer than `epoch`: its `<vm>/return` jobs run under it, so
   * that a restore of the cancel still on its way to the source (a stale job) is refused by a host
   * that has seen the return's (meta `returnEpoch`, taken when the cancel starts).
   */
  returnEpoch?: number;
  /**
   * The recovery point a VM ran from, as its machine recorded it (the cancel's revert reports
   * it): a `<vm>/return` fails the VM over from it again.
   */
  pointOf?: (vm: string) => { id: string; time: string } | undefined;
  /** A protect execution: the automatic start action its steps set. */
  automaticStartAction?: AutomaticStartActionName;
}

/** What a batch's units have of their own; the rest of StepJobData is the batch's. */
export type StepBatchUnit = Pick<
  StepJobData,
  'steps' | 'vm' | 'recoveryPoint' | 'fromPoint' | 'network' | 'readiness' | 'action'
>;

/**
 * The BullMQ payload the orchestrator sends: the units (one VM's steps at the site, or one action)
 * that became ready together at one site, run concurrently by one worker. The handlers still get
 * one StepJobData per unit (`unitJobData`); each unit's result is published to the completions
 * stream as soon as it is known, under the batch's job id.
 */
export interface StepBatchData extends Omit<StepJobData, keyof StepBatchUnit> {
  units: StepBatchUnit[];
  /**
   * Units the worker starts by itself once the units `after` (by their first steps) have all
   * ended well, if it can claim them (StepGraph.followsOf, events.ts): what keeps dispatch
   * latency to one Redis round trip. Absent in batches rebuilt on resume.
   */
  follows?: StepBatchFollow[];
}

/** A follow unit of a batch: the unit, and the units of the job it waits for (first steps). */
export interface StepBatchFollow extends StepBatchUnit {
  after: string[];
}

/** A batch job's return value: the result of each unit, in the batch's order. */
export interface StepBatchResult {
  v: 1;
  units: StepJobResult[];
}

/** True for a batch payload (a single StepJobData, which workers still take, has `steps`). */
export function isStepBatchData(value: unknown): value is { units: unknown } {
  return typeof value === 'object' && value !== null && 'units' in value;
}

/** One unit of a batch as the StepJobData its handlers receive. */
export function unitJobData(batch: StepBatchData, unit: StepBatchUnit | StepBatchFollow): StepJobData {
  const { units: _units, follows: _follows, ...common } = batch;
  const { after: _after, ...own } = unit as StepBatchFollow;
  return { ...common, ...own };
}

/**
 * A unit's own id (`<execution>.<first step>[.a<N>]`): what its handlers see as the job id (action
 * memos, logs). Stable across runs of its batch.
 */
export function unitJobId(batch: Pick<StepBatchData, 'execution' | 'attempt'>, unit: StepBatchUnit): string {
  return stepJobId(batch.execution, unit.steps[0] ?? '', batch.attempt);
}

export interface BullJob {
  queue: string;
  name: string;
  data: StepBatchData;
  jobId: string;
  /** Backoff before a retried job may start. */
  delayMs?: number;
}

/**
 * Most units in one batch job. Larger batches mean fewer BullMQ jobs (each costs a few Redis
 * scripts); a worker still runs the units at its own concurrency.
 * @defaultValue 500
 */
export const MAX_BATCH_UNITS = 500;

/**
 * Group units ready together into batches: same site, same attempt, same backoff, at most one unit
 * per VM and MAX_BATCH_UNITS units each. The first unit's key is the batch's key (job id).
 * Deterministic for a given order of units.
 */
export function batchUnits(units: readonly PlannedJob[], delayOf: (key: string) => number): PlannedBatch[] {
  const open = new Map<string, { batch: PlannedBatch; vms: Set<string> }>();
  const batches: PlannedBatch[] = [];
  for (const unit of units) {
    const delay = delayOf(unit.key);
    // A cancel's returns run under an epoch of their own (JobContext.returnEpoch): a batch of their own.
    const returning = unit.steps[0]?.kind === 'return';
    const group = `${unit.site}\u0000${unit.attempt}\u0000${delay}\u0000${returning}`;
    const vm = unit.steps[0]?.vm;
    let current = open.get(group);
    if (
      !current ||
      current.batch.units.length >= MAX_BATCH_UNITS ||
      (vm !== undefined && current.vms.has(vm))
    ) {
      current = {
        batch: { key: unit.key, attempt: unit.attempt, site: unit.site, units: [], delayMs: delay },
        vms: new Set(),
      };
      open.set(group, current);
      batches.push(current.batch);
    }
    current.batch.units.push(unit);
    if (vm !== undefined) current.vms.add(vm);
  }
  return batches;
}

export function jobContext(base: Omit<JobContext, 'vmsByName'>): JobContext {
  return { ...base, vmsByName: new Map(base.plan.vms.map((vm) => [vm.name, vm])) };
}

export function sitesOf(ctx: Pick<JobContext, 'plan' | 'direction'>): { fromSite: string; toSite: string } {
  return ctx.direction === 'forward'
    ? { fromSite: ctx.plan.source, toSite: ctx.plan.target }
    : { fromSite: ctx.plan.target, toSite: ctx.plan.source };
}

/** A manual action: an operator approves it (or the execution approves all); never a worker job. */
export function isManualStep(ctx: Pick<JobContext, 'plan'>, step: PlanStep): boolean {
  if (step.kind !== 'action' || step.action === undefined) return false;
  const action = ctx.plan.actions.find((a) => a.name === step.action);
  // An undo step (`action/<name>/undo`) is manual when its undo is.
  const run = step.id.endsWith('/undo') ? action?.undo : action?.run;
  return run?.type === 'manual';
}

export function queueOf(site: string): string {
  return site === 'control' ? CONTROL_QUEUE : siteQueueName(site);
}

/** The unit part of one planned job (one VM's steps, or one action). */
export function toBatchUnit(ctx: JobContext, job: PlannedJob): StepBatchUnit {
  const first = job.steps[0];
  if (!first) throw new Error(`job ${job.key} has no steps`);
  const unit: StepBatchUnit = { steps: job.steps.map((s) => s.id) };
  if (first.vm !== undefined) {
    unit.vm = first.vm;
    const vm = ctx.vmsByName.get(first.vm);
    if (vm) {
      const network = ctx.type === 'test' || ctx.type === 'cleanup' ? vm.network.test : vm.network.failover;
      if (network) unit.network = network;
      if (job.steps.some((s) => s.kind === 'failover')) {
        unit.recoveryPoint = ctx.recoveryPoint ?? vm.recoveryPoint ?? ctx.plan.recoveryPoint;
      }
      if (job.steps.some((s) => s.kind === 'readiness')) unit.readiness = vm.readiness;
      if (first.kind === 'return') {
        const point = ctx.pointOf?.(first.vm);
        if (point !== undefined) unit.fromPoint = { id: point.id, time: point.time };
      }
    }
  }
  if (first.action !== undefined) {
    const action = ctx.plan.actions.find((a) => a.name === first.action);
    if (action) unit.action = action;
  }
  return unit;
}

/** The BullMQ job of a batch: queue, deterministic id (`stepJobId` of the batch key), payload. */
export function toBullJob(ctx: JobContext, batch: PlannedBatch): BullJob {
  const first = batch.units[0]?.steps[0];
  if (!first) throw new Error(`job ${batch.key} has no steps`);
  const { fromSite, toSite } = sitesOf(ctx);
  const data: StepBatchData = {
    v: 1,
    execution: ctx.execution,
    epoch: first.kind === 'return' && ctx.returnEpoch !== undefined ? ctx.returnEpoch : ctx.epoch,
    type: ctx.type,
    direction: ctx.direction,
    site: batch.site,
    fromSite,
    toSite,
    attempt: batch.attempt,
    // Scripts and webhooks receive it as DR_PLAN / `plan`.
    plan: ctx.plan.metadata.name,
    units: batch.units.map((unit) => toBatchUnit(ctx, unit)),
  };
  if (ctx.automaticStartAction !== undefined) data.automaticStartAction = ctx.automaticStartAction;
  if (batch.follows?.length) {
    data.follows = batch.follows.map((follow) => ({ ...toBatchUnit(ctx, follow.unit), after: follow.after }));
  }
  const jobId = stepJobId(ctx.execution, batch.key, batch.attempt);
  const bull: BullJob = { queue: queueOf(batch.site), name: first.kind, data, jobId };
  if (batch.delayMs) bull.delayMs = batch.delayMs;
  return bull;
}
