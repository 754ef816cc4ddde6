/**
 * The seam between a site worker (worker.ts: the BullMQ side, Redis-side state) and whatever carries
 * a unit out: the handlers in the same process by default, or the site's agent behind the control
 * plane (engine/control/agents relay).
 */
import type { Logger } from '../common/index.ts';
import type { StepJobData } from '../contract/index.ts';
import type { SightingStore } from '../locks/index.ts';
import type { ActionMemo, EventSink, StepJobRun } from './handlers/index.ts';

/** One unit as the worker hands it to its unit runner. */
export interface UnitRun {
  /** The unit's own id (unitJobId: what its handlers see as the job id). */
  id: string;
  data: StepJobData;
  /** A late fence (handlers/dispatch.ts RunStepJobDeps.late) and whether the VM's failover was done. */
  late: boolean;
  lateFailedOver: boolean;
  log: Logger;
  signal: AbortSignal;
}

/** Where a unit runner writes what the unit produced: this worker's Redis-side sinks. */
export interface UnitSinks {
  events: EventSink;
  sightings: SightingStore;
  memo: ActionMemo;
}

/**
 * Carries out one unit and returns its run. Events go to `sinks.events` (all appended before it
 * returns), sightings to `sinks.sightings` (written before it returns: the result is published
 * after, and a dependent unit reads them).
 */
export type UnitRunner = (unit: UnitRun, sinks: UnitSinks) => Promise<StepJobRun>;
