/**
 * From a planned job to the BullMQ job a site worker runs: queue, deterministic id and payload.
 * Everything comes from the execution's stored snapshot, never from the plan file.
 */
import type { Direction, PlanStep, PlanVm, RecoveryPlan, RecoveryPointChoice } from '../../plan/types.ts';
import {
  CONTROL_QUEUE,
  type ExecutionType,
  type StepJobData,
  siteQueueName,
  stepJobId,
} from '../contract.ts';
import type { PlannedJob } from './step-graph.ts';

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
}

export interface BullJob {
  queue: string;
  name: string;
  data: StepJobData;
  jobId: string;
  /** Backoff before a retried job may start. */
  delayMs?: number;
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
  return ctx.plan.actions.find((a) => a.name === step.action)?.run.type === 'manual';
}

export function queueOf(site: string): string {
  return site === 'control' ? CONTROL_QUEUE : siteQueueName(site);
}

export function toBullJob(ctx: JobContext, job: PlannedJob): BullJob {
  const first = job.steps[0];
  if (!first) throw new Error(`job ${job.key} has no steps`);
  const { fromSite, toSite } = sitesOf(ctx);
  const data: StepJobData = {
    v: 1,
    execution: ctx.execution,
    epoch: ctx.epoch,
    type: ctx.type,
    direction: ctx.direction,
    site: job.site,
    fromSite,
    toSite,
    steps: job.steps.map((s) => s.id),
    attempt: job.attempt,
    plan: ctx.plan.metadata.name,
  };
  if (first.vm !== undefined) {
    data.vm = first.vm;
    const vm = ctx.vmsByName.get(first.vm);
    if (vm) {
      const network = ctx.type === 'test' || ctx.type === 'cleanup' ? vm.network.test : vm.network.failover;
      if (network) data.network = network;
      if (job.steps.some((s) => s.kind === 'failover')) {
        data.recoveryPoint = ctx.recoveryPoint ?? vm.recoveryPoint ?? ctx.plan.recoveryPoint;
      }
      if (job.steps.some((s) => s.kind === 'readiness')) data.readiness = vm.readiness;
    }
  }
  if (first.action !== undefined) {
    const action = ctx.plan.actions.find((a) => a.name === first.action);
    if (action) data.action = action;
  }
  const jobId = stepJobId(ctx.execution, job.key, job.attempt);
  return { queue: queueOf(job.site), name: first.kind, data, jobId };
}
