/**
 * The execution's step graph in memory: which steps are ready, which finish, which jobs to send.
 * Pure; built from the compiled plan's steps and the stored step states, so an orchestrator that
 * resumes rebuilds it from Redis alone. Each operation is O(degree) of the steps it touches.
 */
import type { PlanStep } from '../plan/types.ts';
import { decodeStepState, isFinal, PENDING, releasesSuccessors, type StepState } from './step-state.ts';

/** A job to send: one or more consecutive steps of one VM at one site (or a single action). */
export interface PlannedJob {
  key: string;
  attempt: number;
  site: string;
  steps: PlanStep[];
}

/**
 * A batch job: units (planned jobs) of one site and attempt, sent as one BullMQ job whose id comes
 * from `key` (its first unit's key). Every step of every unit is stored queued with this key.
 */
export interface PlannedBatch {
  key: string;
  attempt: number;
  site: string;
  units: PlannedJob[];
  /** Backoff before the batch may start (a retry). */
  delayMs?: number;
  /** Units the batch's worker may start itself as their last predecessor finishes (followsOf). */
  follows?: PlannedFollow[];
}

/**
 * A unit a site worker starts by itself, without a round trip through the orchestrator, once the
 * units `after` (units of the same job: the batch's or other follows) have all ended well: every
 * other predecessor of its first step was already released when the batch was planned. The worker
 * that publishes the last of them claims it in Redis atomically with that result (events.ts), so
 * it runs once.
 */
export interface PlannedFollow {
  /** Keys (first steps) of the units of the job whose success releases this one. */
  after: string[];
  unit: PlannedJob;
}

/**
 * Most follow units one batch carries (a chain of follows runs inside its batch's job).
 * @defaultValue 500
 */
export const MAX_FOLLOWS = 500;

/**
 * Longest chain of follows after a unit of the batch. A job lives as long as its longest chain of
 * units, and BullMQ counts each death of a worker running it against the job's `maxStalledCount`
 * for its whole life: the orchestrator sends the next link itself after this many.
 * @defaultValue 8
 */
export const MAX_FOLLOW_DEPTH = 8;

const MERGEABLE = new Set<PlanStep['kind']>(['shutdown', 'failover', 'boot', 'readiness']);

export class StepGraph {
  readonly steps: ReadonlyMap<string, PlanStep>;
  private readonly states = new Map<string, StepState>();
  /** Predecessors not yet released, per step not yet final. */
  private readonly waitingOn = new Map<string, number>();
  private finalCount = 0;
  private queuedCount = 0;

  constructor(steps: ReadonlyMap<string, PlanStep>, stored: Readonly<Record<string, string>> = {}) {
    this.steps = steps;
    for (const id of steps.keys()) {
      const state = decodeStepState(stored[id]);
      this.states.set(id, state);
      if (isFinal(state.status)) this.finalCount += 1;
      if (state.status === 'queued') this.queuedCount += 1;
    }
    for (const [id, step] of steps) {
      let waiting = 0;
      for (const pred of step.after) if (!releasesSuccessors(this.state(pred).status)) waiting += 1;
      this.waitingOn.set(id, waiting);
    }
  }

  get total(): number {
    return this.steps.size;
  }

  get finished(): number {
    return this.finalCount;
  }

  /** Steps in a job that has not reported back yet. */
  get queued(): number {
    return this.queuedCount;
  }

  state(id: string): StepState {
    return this.states.get(id) ?? PENDING;
  }

  step(id: string): PlanStep {
    const step = this.steps.get(id);
    if (!step) throw new Error(`unknown step ${id}`);
    return step;
  }

  /** Pending steps whose predecessors are all released (at start and on resume). */
  readySteps(): string[] {
    const ready: string[] = [];
    for (const [id, state] of this.states) {
      if (state.status === 'pending' && this.waitingOn.get(id) === 0) ready.push(id);
    }
    return ready;
  }

  /** Steps queued in a job, grouped by job (key and attempt), in step order. */
  queuedJobs(): PlannedJob[] {
    const jobs = new Map<string, PlannedJob>();
    for (const [id, state] of this.states) {
      if (state.status !== 'queued' || state.jobKey === undefined) continue;
      const jobKey = `${state.jobKey}#${state.attempt}`;
      let job = jobs.get(jobKey);
      if (!job) {
        job = { key: state.jobKey, attempt: state.attempt, site: this.step(id).site, steps: [] };
        jobs.set(jobKey, job);
      }
      job.steps.push(this.step(id));
    }
    for (const job of jobs.values()) job.steps = this.chainOrder(job.key, job.steps);
    return [...jobs.values()];
  }

  /**
   * Steps queued in a job, grouped by job (key and attempt) and within a job by unit: the steps of
   * one VM in chain order, or one action. The unit whose first step is the key comes first.
   */
  queuedBatches(): PlannedBatch[] {
    const batches: PlannedBatch[] = [];
    for (const job of this.queuedJobs()) {
      const byUnit = new Map<string, PlanStep[]>();
      for (const step of job.steps) {
        const unit = step.vm ?? step.id;
        const list = byUnit.get(unit) ?? [];
        list.push(step);
        byUnit.set(unit, list);
      }
      const units: PlannedJob[] = [];
      for (const steps of byUnit.values()) {
        const ordered = this.unitOrder(steps);
        const key = ordered[0]?.id ?? '';
        const unit: PlannedJob = { key, attempt: job.attempt, site: job.site, steps: ordered };
        if (key === job.key) units.unshift(unit);
        else units.push(unit);
      }
      batches.push({ key: job.key, attempt: job.attempt, site: job.site, units });
    }
    return batches;
  }

  /** One unit's steps in dependency order (each step after the ones of the unit it waits for). */
  private unitOrder(steps: readonly PlanStep[]): PlanStep[] {
    const left = new Set(steps.map((s) => s.id));
    const ordered: PlanStep[] = [];
    while (left.size > 0) {
      const next =
        steps.find((s) => left.has(s.id) && !s.after.some((a) => left.has(a))) ??
        steps.find((s) => left.has(s.id));
      if (!next) break;
      ordered.push(next);
      left.delete(next.id);
    }
    return ordered;
  }

  /** Set a step's state; returns the successors that became ready when it released them. */
  set(id: string, next: StepState): string[] {
    const previous = this.state(id);
    this.states.set(id, next);
    if (!isFinal(previous.status) && isFinal(next.status)) this.finalCount += 1;
    if (isFinal(previous.status) && !isFinal(next.status)) this.finalCount -= 1;
    if (previous.status === 'queued') this.queuedCount -= 1;
    if (next.status === 'queued') this.queuedCount += 1;
    if (releasesSuccessors(previous.status) || !releasesSuccessors(next.status)) return [];
    const ready: string[] = [];
    for (const succ of this.step(id).before) {
      const left = (this.waitingOn.get(succ) ?? 0) - 1;
      this.waitingOn.set(succ, left);
      if (left === 0 && this.state(succ).status === 'pending') ready.push(succ);
    }
    return ready;
  }

  /** Every step that can no longer run because `id` failed (transitive successors). */
  dependentsOf(id: string): string[] {
    const seen = new Set<string>();
    const stack = [...this.step(id).before];
    while (stack.length > 0) {
      const next = stack.pop() as string;
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...this.step(next).before);
    }
    return [...seen];
  }

  /**
   * Group ready steps into jobs: a step takes its only successor along when that successor is of
   * the same VM at the same site and waits for nothing else, and so on down the chain.
   */
  planJobs(ready: readonly string[]): PlannedJob[] {
    return ready.map((id) => {
      const first = this.step(id);
      return { key: id, attempt: this.state(id).attempt, site: first.site, steps: this.chainFrom(first) };
    });
  }

  /**
   * The follow units of a batch about to be sent (PlannedFollow): the pending VM steps at the
   * batch's site whose predecessors not yet released are all steps of units of the job (the
   * batch's, or follows found before), each as the unit it would be sent as (chainFrom); looked for
   * past the batch's units, then past each follow found, breadth first, at most `limit`, at most
   * `maxDepth` links after a unit of the batch. At most one unit per VM in the job (a batch is
   * rebuilt from step states by VM); first attempts only (the claim checks the step was never
   * touched).
   */
  followsOf(batch: PlannedBatch, limit = MAX_FOLLOWS, maxDepth = MAX_FOLLOW_DEPTH): PlannedFollow[] {
    if (batch.attempt !== 1 || batch.delayMs) return [];
    const vms = new Set<string>();
    // Each step of a unit of the job → that unit's key; each unit's key → its depth (batch: 0).
    const unitOf = new Map<string, string>();
    const depthOf = new Map<string, number>();
    const addUnit = (unit: PlannedJob, depth: number): void => {
      if (unit.steps[0]?.vm !== undefined) vms.add(unit.steps[0].vm);
      for (const step of unit.steps) unitOf.set(step.id, unit.key);
      depthOf.set(unit.key, depth);
    };
    for (const unit of batch.units) addUnit(unit, 0);
    const follows: PlannedFollow[] = [];
    const parents = [...batch.units];
    for (let p = 0; p < parents.length && follows.length < limit; p += 1) {
      const parent = parents[p] as PlannedJob;
      for (const step of parent.steps) {
        for (const id of step.before) {
          if (follows.length >= limit || unitOf.has(id)) continue;
          const next = this.step(id);
          if (next.vm === undefined || vms.has(next.vm) || next.site !== parent.site) continue;
          if (next.kind === 'action' || next.kind === 'barrier') continue;
          const state = this.state(id);
          if (state.status !== 'pending' || state.attempt !== 1) continue;
          const after = new Set<string>();
          let inJob = true;
          let depth = 0;
          for (const pred of next.after) {
            const unit = unitOf.get(pred);
            if (unit !== undefined) {
              after.add(unit);
              depth = Math.max(depth, (depthOf.get(unit) ?? 0) + 1);
            } else if (!releasesSuccessors(this.state(pred).status)) inJob = false;
          }
          if (!inJob || depth > maxDepth) continue;
          const unit: PlannedJob = { key: id, attempt: 1, site: next.site, steps: this.chainFrom(next) };
          follows.push({ after: [...after], unit });
          addUnit(unit, depth);
          parents.push(unit);
        }
      }
    }
    return follows;
  }

  /**
   * A step and the successors it takes along into one unit: its only successor when that is of
   * the same VM at the same site and waits for nothing else, and so on down the chain.
   */
  private chainFrom(first: PlanStep): PlanStep[] {
    const chain = [first];
    if (first.vm === undefined || !MERGEABLE.has(first.kind)) return chain;
    let current = first;
    while (current.before.length === 1) {
      const next = this.steps.get(current.before[0] as string);
      if (!next || next.vm !== first.vm || next.site !== first.site || !MERGEABLE.has(next.kind)) break;
      if (this.state(next.id).status !== 'pending') break;
      const prior = current.id;
      if (next.after.some((p) => p !== prior && !releasesSuccessors(this.state(p).status))) break;
      chain.push(next);
      current = next;
    }
    return chain;
  }

  private chainOrder(key: string, steps: PlanStep[]): PlanStep[] {
    const byId = new Map(steps.map((s) => [s.id, s]));
    const ordered: PlanStep[] = [];
    let current = byId.get(key);
    while (current) {
      ordered.push(current);
      byId.delete(current.id);
      current = current.before.map((b) => byId.get(b)).find((s) => s !== undefined);
    }
    return ordered.concat([...byId.values()]);
  }
}
