/**
 * The in-memory state of one execution being driven: the step graph, the VM machines, and the
 * batch of changes to record next. No I/O: the runner feeds it results and writes what it returns,
 * which keeps every decision testable and makes a batch of completions one Redis round trip.
 */
import type { Logger } from '../../common/index.ts';
import type { EngineEvent } from '../../contract/index.ts';
import {
  CANCEL_JOB_ID,
  EVENT_SCHEMA_VERSION,
  type StepJobResult,
  type StepResult,
  stepJobId,
} from '../../contract/index.ts';
import {
  applyVmEvent,
  initialVmSnapshot,
  persistVm,
  restoreVm,
  type VmEvent,
  type VmMode,
  type VmSnapshot,
  vmPhase,
} from '../../machines/index.ts';
import type { PlanStep } from '../../plan/types.ts';
import {
  type BullJob,
  batchUnits,
  encodeStepState,
  isManualStep,
  type JobContext,
  StepGraph,
  type StepStatus,
  toBullJob,
} from '../../schedule/index.ts';
import { emptyWrite, META, type ProgressWrite } from '../store/record.ts';
import { skipReason } from './conditional-steps.ts';
import { failurePolicyOf, retryDelayMs } from './failure-policy.ts';
import {
  applyOperatorCommand,
  isOperatorJobId,
  manualInstruction,
  type OperatorTarget,
  pauseStep,
} from './operator.ts';
import type { ExecutionNotice } from './runner-deps.ts';

export class ExecutionProgress {
  readonly graph: StepGraph;
  /** Set once a step failed for good under `fail-plan`: nothing new is dispatched. */
  failure: string | undefined;
  /** Set by cancel(): the execution ends `cancelling` and its rollback follows. */
  cancelRequested: string | undefined;
  /** Steps that failed for good (any policy): the execution ends failed. */
  readonly failedSteps: string[] = [];
  /** Steps paused for an operator (`then: pause`); the execution shows as paused while any waits. */
  readonly paused = new Set<string>();
  private operatorTarget: OperatorTarget | undefined;
  private readonly vmJson: Map<string, string>;
  private readonly vmCache = new Map<string, VmSnapshot>();
  private readonly ready = new Set<string>();
  private readonly dirtySteps = new Set<string>();
  private readonly dirtyVms = new Set<string>();
  private readonly events: EngineEvent[] = [];
  private notices: ExecutionNotice[] = [];
  private readonly delays = new Map<string, number>();
  private finishedAtLastDrain: number;
  private haltRecorded = false;
  /**
   * When a VM last became ready (this orchestrator's clock, ms): where a recovery's RTO ends.
   * Stored with the batch (meta `lastReadyAt`); the runner restores it on resume.
   */
  lastReadyAt: number | undefined;
  private lastReadyDirty = false;

  readonly ctx: JobContext;

  constructor(
    ctx: JobContext,
    steps: ReadonlyMap<string, PlanStep>,
    storedSteps: Readonly<Record<string, string>>,
    storedVms: Readonly<Record<string, string>>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    // A cancel's return fails its VM over again from the point its machine recorded.
    this.ctx = ctx.type === 'cancel' ? { ...ctx, pointOf: (vm) => this.vm(vm).context.recoveryPoint } : ctx;
    this.graph = new StepGraph(steps, storedSteps);
    this.vmJson = new Map(Object.entries(storedVms));
    this.finishedAtLastDrain = this.graph.finished;
    for (const id of steps.keys()) {
      const status = this.graph.state(id).status;
      if (status === 'failed') this.failedSteps.push(id);
      else if (status === 'paused') this.paused.add(id);
    }
    // On resume: a step that failed for good under `fail-plan` still stops new dispatches.
    const fatal = this.failedSteps.find(
      (id) => failurePolicyOf(this.ctx, this.graph.step(id)).outcome === 'fail-plan',
    );
    if (fatal !== undefined) this.failure = `${fatal}: failed`;
  }

  /** Ready steps not yet queued (start, or resume after a crash between recording and dispatch). */
  seedReady(): void {
    for (const id of this.graph.readySteps()) this.ready.add(id);
  }

  /** Jobs marked queued in Redis, as BullMQ jobs (for reconciling). */
  queuedJobs(): BullJob[] {
    const jobs: BullJob[] = [];
    for (const batch of this.graph.queuedBatches()) {
      batch.units = batch.units.filter((unit) => unit.steps[0] && !isManualStep(this.ctx, unit.steps[0]));
      if (batch.units.length > 0) jobs.push(toBullJob(this.ctx, batch));
    }
    return jobs;
  }

  get queuedCount(): number {
    return this.graph.queued;
  }

  /** All steps final, or failed with nothing left in flight. */
  isSettled(): boolean {
    if (this.graph.finished === this.graph.total) return true;
    return this.failure !== undefined && this.queuedCount === 0;
  }

  vm(name: string): VmSnapshot {
    let snapshot = this.vmCache.get(name);
    if (!snapshot) {
      const json = this.vmJson.get(name);
      snapshot = json ? restoreVm(json) : initialVmSnapshot(name, this.ctx.type as VmMode);
      this.vmCache.set(name, snapshot);
    }
    return snapshot;
  }

  /** Record one job's result. Results of a job that is no longer the step's current job are ignored. */
  applyResult(jobId: string, result: StepJobResult, synthesized = false): void {
    if (isOperatorJobId(jobId)) {
      applyOperatorCommand(this.operator(), result);
      return;
    }
    if (jobId === CANCEL_JOB_ID) {
      this.cancel(result.steps[0]?.output?.reason);
      return;
    }
    // Follow units the worker claimed with this result are queued in its job in Redis, whether or
    // not the result itself still counts (a run of a job already given up on may have claimed
    // before the orchestrator recorded that): adopted first, so none is dispatched a second time.
    if (result.claimed) this.claimed(jobId, result.claimed);
    for (const step of result.steps) {
      const state = this.graph.state(step.id);
      if (state.status !== 'queued' || state.jobKey === undefined) continue;
      if (stepJobId(this.ctx.execution, state.jobKey, state.attempt) !== jobId) continue;
      if (step.outcome === 'failed') {
        this.fail(step, state.attempt, result, synthesized);
        return;
      }
      this.finish(step.id, step.outcome, result);
    }
  }

  /**
   * Follow units a worker claimed in job `jobId` (StepGraph.followsOf; only first-attempt batches
   * carry follows, so the job id is `<execution>.<batch key>`): it stored their steps queued in that
   * job and runs them. Recorded here instead of dispatching them, with the VM's STARTED; only a unit
   * this graph has not touched yet (its first step pending at attempt 1, as the claim found it in
   * Redis): a claim read again later (a repeated run's result, a stream replayed after a resume)
   * changes nothing of what was recorded since. A unit loaded queued in the job on resume only
   * gets its STARTED.
   */
  private claimed(jobId: string, units: readonly string[][]): void {
    const jobKey = jobId.slice(this.ctx.execution.length + 1);
    for (const steps of units) {
      const first = steps[0] === undefined ? undefined : this.graph.steps.get(steps[0]);
      if (first === undefined) continue;
      const state = this.graph.state(first.id);
      if (state.status === 'pending' && state.attempt === 1) {
        for (const id of steps) {
          const step = this.graph.state(id);
          if (!this.graph.steps.has(id) || step.status !== 'pending' || step.attempt !== 1) continue;
          this.graph.set(id, { status: 'queued', attempt: 1, jobKey });
          this.dirtySteps.add(id);
          this.ready.delete(id);
        }
      } else if (state.status !== 'queued' || state.jobKey !== jobKey) {
        continue;
      }
      this.unitStarted(first);
    }
  }

  /** A VM's unit went out (sent, or claimed by a worker): its machine is told it started. */
  private unitStarted(first: PlanStep): void {
    if (first.vm === undefined) return;
    this.vmEvent(
      first.vm,
      this.ctx.type === 'cleanup' ? { type: 'CLEANUP_STARTED' } : { type: 'STARTED', kind: first.kind },
    );
  }

  private finish(id: string, outcome: StepStatus, result: StepJobResult): void {
    const attempt = this.graph.state(id).attempt;
    for (const next of this.graph.set(id, { status: outcome, attempt })) this.ready.add(next);
    this.dirtySteps.add(id);
    const step = this.graph.step(id);
    if (step.vm !== undefined && step.kind !== 'action' && step.kind !== 'barrier') {
      const own = result.steps.find((s) => s.id === id);
      const host = step.kind === 'boot' || step.kind === 'return' ? own?.output?.host : undefined;
      // A warned step's code tells the machine what did not happen (a restore that found no source).
      const warning = outcome === 'warned' ? own?.error?.code : undefined;
      const event: VmEvent =
        this.ctx.type === 'cleanup'
          ? { type: 'CLEANUP_DONE' }
          : {
              type: 'DONE',
              kind: step.kind,
              ...(step.kind === 'failover' && result.recoveryPoint
                ? { recoveryPoint: result.recoveryPoint }
                : {}),
              ...(step.kind === 'failover' && result.dataLoss ? { dataLoss: result.dataLoss } : {}),
              ...(typeof host === 'string' ? { host } : {}),
              ...(warning !== undefined ? { warning } : {}),
            };
      this.vmEvent(step.vm, event);
    }
  }

  private fail(result: StepResult, attempt: number, job: StepJobResult, synthesized: boolean): void {
    const step = this.graph.step(result.id);
    const policy = failurePolicyOf(this.ctx, step);
    const error = result.error ?? { code: 'STEP_FAILED', message: `${step.id} failed`, retryable: true };
    const at = new Date(this.now()).toISOString();
    if (synthesized) {
      this.events.push({
        v: EVENT_SCHEMA_VERSION,
        at,
        type: 'step-finished',
        execution: this.ctx.execution,
        step: step.id,
        site: step.site,
        outcome: 'failed',
        attempt,
        error,
      });
    }
    // Steps of the job after the failed one did not run: they wait again.
    const jobSteps = job.steps.map((s) => s.id);
    for (const later of jobSteps.slice(jobSteps.indexOf(step.id) + 1)) {
      if (this.graph.state(later).status === 'queued') {
        this.graph.set(later, { status: 'pending', attempt: this.graph.state(later).attempt });
        this.dirtySteps.add(later);
      }
    }
    if (step.vm !== undefined)
      this.vmEvent(step.vm, { type: 'FAILED', step: step.id, code: error.code, message: error.message });
    if (attempt <= policy.retries && error.retryable && this.failure === undefined) {
      const delay = retryDelayMs(policy, attempt);
      this.graph.set(step.id, { status: 'pending', attempt: attempt + 1 });
      this.delays.set(step.id, delay);
      this.ready.add(step.id);
      this.dirtySteps.add(step.id);
      if (step.vm !== undefined) this.vmEvent(step.vm, { type: 'RETRY', kind: step.kind });
      this.log.warn({ step: step.id, attempt, code: error.code }, 'step failed; retrying');
      return;
    }
    this.notices.push({
      kind: 'step-failed',
      ...this.noticeBase(step, attempt, at),
      ...(step.vm === undefined ? {} : { vm: step.vm }),
      error: { code: error.code, message: error.message },
      policy: policy.outcome,
    });
    if (policy.outcome === 'pause') {
      pauseStep(this.operator(), step.id, attempt, error);
      return;
    }
    this.graph.set(step.id, { status: 'failed', attempt });
    this.dirtySteps.add(step.id);
    this.failedSteps.push(step.id);
    if (step.vm !== undefined) {
      this.events.push({
        v: EVENT_SCHEMA_VERSION,
        at,
        type: 'vm-phase',
        execution: this.ctx.execution,
        vm: step.vm,
        site: step.site,
        phase: 'failed',
        detail: `${error.code}: ${error.message}`,
      });
    }
    this.log.error({ step: step.id, attempt, code: error.code, outcome: policy.outcome }, error.message);
    if (policy.outcome === 'continue-without-dependents') {
      for (const dependent of this.graph.dependentsOf(step.id)) {
        if (this.graph.state(dependent).status !== 'pending') continue;
        this.graph.set(dependent, { status: 'failed', attempt: 1 });
        this.dirtySteps.add(dependent);
        this.ready.delete(dependent);
      }
      return;
    }
    this.failure = `${step.id}: ${error.code}: ${error.message}`;
  }

  private vmEvent(vm: string, event: VmEvent): void {
    const before = this.vm(vm);
    const { snapshot, changed } = applyVmEvent(before, event);
    if (!changed) {
      this.log.debug({ vm, event: event.type, phase: vmPhase(before) }, 'VM machine ignored an event');
      return;
    }
    if (vmPhase(snapshot) === 'ready' && vmPhase(before) !== 'ready') {
      this.lastReadyAt = this.now();
      this.lastReadyDirty = true;
    }
    this.vmCache.set(vm, snapshot);
    this.dirtyVms.add(vm);
  }

  /**
   * Complete ready barriers, turn the other ready steps into jobs (marked queued), and return the
   * batch to record, then the jobs to add once it is recorded.
   */
  drain(cursor?: string): { write: ProgressWrite; jobs: BullJob[] } {
    const jobs: BullJob[] = [];
    const toDispatch: string[] = [];
    while (this.ready.size > 0) {
      const [id] = this.ready;
      this.ready.delete(id as string);
      const step = this.graph.step(id as string);
      if (this.graph.state(step.id).status !== 'pending') continue;
      if (step.kind === 'barrier') {
        this.finish(step.id, 'done', { v: 1, steps: [] });
        continue;
      }
      if (this.failure !== undefined) continue;
      const skip = skipReason(
        this.ctx,
        step,
        (vm) => this.vm(vm).value,
        () => this.vmNames(),
      );
      if (skip !== undefined) {
        this.skipWithoutJob(step, skip);
        continue;
      }
      if (isManualStep(this.ctx, step)) this.awaitApproval(step);
      else toDispatch.push(step.id);
    }
    // Units ready together at one site travel as one batch job (schedule/job-data.ts).
    const units = this.graph.planJobs(toDispatch);
    for (const batch of batchUnits(units, (key) => this.delays.get(key) ?? 0)) {
      // Units the worker may start itself as their last predecessor ends (worker.ts).
      const follows = this.graph.followsOf(batch);
      if (follows.length > 0) batch.follows = follows;
      jobs.push(toBullJob(this.ctx, batch));
      for (const planned of batch.units) {
        this.delays.delete(planned.key);
        for (const step of planned.steps) {
          this.graph.set(step.id, { status: 'queued', attempt: planned.attempt, jobKey: batch.key });
          this.dirtySteps.add(step.id);
        }
        const first = planned.steps[0];
        if (first !== undefined && first.kind !== 'action') this.unitStarted(first);
      }
    }
    const write = emptyWrite();
    if (cursor !== undefined) write.cursor = cursor;
    // Workers stop claiming follow units once the plan has failed (events.ts).
    if (this.failure !== undefined && !this.haltRecorded) {
      write.meta.push([META.halted, this.failure]);
      this.haltRecorded = true;
    }
    if (this.lastReadyDirty && this.lastReadyAt !== undefined) {
      write.meta.push([META.lastReadyAt, String(this.lastReadyAt)]);
      this.lastReadyDirty = false;
    }
    write.doneDelta = this.graph.finished - this.finishedAtLastDrain;
    this.finishedAtLastDrain = this.graph.finished;
    for (const id of this.dirtySteps) write.steps.push([id, encodeStepState(this.graph.state(id))]);
    for (const vm of this.dirtyVms) {
      const json = persistVm(this.vm(vm));
      this.vmJson.set(vm, json);
      write.vms.push([vm, json]);
    }
    write.events = this.events.map((e) => JSON.stringify(e));
    this.dirtySteps.clear();
    this.dirtyVms.clear();
    this.events.length = 0;
    return { write, jobs };
  }

  /**
   * A conditional step that is not needed (conditional-steps.ts): recorded skipped, no job, no VM
   * event; an action's skip is logged with why (a return's is the usual case and goes unsaid).
   */
  private skipWithoutJob(step: PlanStep, reason: string): void {
    const attempt = this.graph.state(step.id).attempt;
    for (const next of this.graph.set(step.id, { status: 'skipped', attempt })) this.ready.add(next);
    this.dirtySteps.add(step.id);
    if (step.kind !== 'action') return;
    this.events.push({
      v: EVENT_SCHEMA_VERSION,
      at: new Date(this.now()).toISOString(),
      type: 'step-finished',
      execution: this.ctx.execution,
      step: step.id,
      site: step.site,
      outcome: 'skipped',
      attempt,
      output: { reason },
    });
  }

  /**
   * A manual action: approved at once when the execution approves all manual actions, else it
   * waits (queued, no job) for an operator's approval, which arrives as a completion.
   */
  private awaitApproval(step: PlanStep): void {
    const attempt = this.graph.state(step.id).attempt;
    const at = new Date(this.now()).toISOString();
    const base = {
      v: EVENT_SCHEMA_VERSION,
      at,
      execution: this.ctx.execution,
      step: step.id,
      site: step.site,
      attempt,
    } as const;
    this.events.push({ ...base, type: 'step-started' });
    if (this.ctx.approveManual) {
      this.events.push({
        ...base,
        type: 'step-finished',
        outcome: 'done',
        output: { approvedBy: 'submitter (manual actions pre-approved)' },
      });
      this.finish(step.id, 'done', { v: 1, steps: [] });
      return;
    }
    this.graph.set(step.id, { status: 'queued', attempt, jobKey: step.id });
    this.dirtySteps.add(step.id);
    const instruction = manualInstruction(this.ctx, step).replace(/^ — /, '');
    this.notices.push({
      kind: 'step-waiting-manual',
      ...this.noticeBase(step, attempt, at),
      ...(instruction === '' ? {} : { instruction }),
    });
    this.events.push({
      v: EVENT_SCHEMA_VERSION,
      at,
      type: 'execution-status',
      execution: this.ctx.execution,
      status: 'running',
      detail: `waiting for approval of ${step.id}: drctl approve ${this.ctx.execution} ${step.action ?? step.id} --comment "..."${manualInstruction(this.ctx, step)}`,
    });
  }

  /** What orchestrator/operator.ts (pause, operator commands) may change. */
  operator(): OperatorTarget {
    this.operatorTarget ??= {
      ctx: this.ctx,
      graph: this.graph,
      log: this.log,
      paused: this.paused,
      failedSteps: this.failedSteps,
      failing: () => this.failure,
      now: this.now,
      setState: (id, state) => {
        this.graph.set(id, state);
        this.dirtySteps.add(id);
      },
      finish: (id, outcome) => this.finish(id, outcome, { v: 1, steps: [] }),
      ready: (id) => this.ready.add(id),
      vmEvent: (vm, event) => this.vmEvent(vm, event),
      event: (event) => this.events.push(event),
    };
    return this.operatorTarget;
  }

  /**
   * `drctl cancel` of a running failover (store/lifecycle.ts): dispatch nothing more, drop the
   * manual actions waiting for approval; the execution settles once its jobs in flight end, and its
   * rollback runs as a `cancel` execution (finish.ts).
   */
  cancel(reason: unknown): void {
    this.cancelRequested = typeof reason === 'string' && reason !== '' ? reason : 'cancelled by an operator';
    this.failure ??= `cancelled: ${this.cancelRequested}`;
    for (const [id, step] of this.graph.steps) {
      const state = this.graph.state(id);
      if (state.status !== 'queued' || state.jobKey !== id || !isManualStep(this.ctx, step)) continue;
      this.graph.set(id, { status: 'skipped', attempt: state.attempt });
      this.dirtySteps.add(id);
    }
    this.ready.clear();
  }

  /** The notices decided since the last call (ExecutionNotice), once each. */
  takeNotices(): ExecutionNotice[] {
    const taken = this.notices;
    this.notices = [];
    return taken;
  }

  private noticeBase(step: PlanStep, attempt: number, at: string) {
    return {
      execution: this.ctx.execution,
      plan: this.ctx.plan.metadata.name,
      executionType: this.ctx.type,
      step: step.id,
      site: step.site,
      attempt,
      at,
    };
  }

  /** An event decided outside the step results (best-effort.ts), written with the next batch. */
  addEvent(event: EngineEvent): void {
    this.events.push(event);
  }

  /** The VMs and their recovery points (for the data-loss report). */
  vmNames(): string[] {
    return this.ctx.plan.vms.map((vm) => vm.name);
  }
}
