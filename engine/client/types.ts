/**
 * The one interface the CLI (and later the dashboard) uses to run and watch executions. Redis-backed
 * here (redis-client.ts); an HTTP client implements it when the control plane arrives.
 */
import type { EngineEvent, ExecutionRecord, StoredEvent, VmPhase } from '../executor/index.ts';
import type { Direction, FailoverType, RecoveryPlan, RecoveryPointChoice } from '../plan/types.ts';

export interface SubmitOptions {
  type: FailoverType;
  plan: RecoveryPlan;
  /** Content hash of the plan (engine/plan's planHash). */
  hash: string;
  /** @defaultValue 'forward' */
  direction?: Direction;
  /** @defaultValue the OS user name */
  by?: string;
  reason: string;
  /** Run-time choice, overriding the plan's (unplanned failover). */
  recoveryPoint?: RecoveryPointChoice;
  /** Measured before submitting an unplanned failover; stored and logged with it. */
  recoveryPointGap?: ExecutionRecord['recoveryPointGap'];
  /** Manual actions count as approved. @defaultValue false */
  approveManual?: boolean;
}

export interface SubmitResult {
  id: string;
  epoch: number;
  stepsTotal: number;
  estimateMs: number;
}

/** An execution with its live progress. */
export interface ExecutionView extends ExecutionRecord {
  /** Phase of each VM (from the VM machines); only when asked for with `vms: true`. */
  vms?: Record<string, VmPhase>;
  /** Lowest wave (topological level) with unfinished steps; only with `vms: true`. */
  currentWave?: number;
  waves?: number;
}

export interface EventsOptions {
  /** Only events after this stream id. */
  after?: string;
  /** Keep waiting for new events until the execution finishes or `signal` aborts. */
  follow?: boolean;
  signal?: AbortSignal;
}

export interface ExecutionClient {
  submit(options: SubmitOptions): Promise<SubmitResult>;
  get(id: string, options?: { vms?: boolean }): Promise<ExecutionView>;
  /** Newest first. */
  list(options?: { limit?: number }): Promise<ExecutionRecord[]>;
  events(id: string, options?: EventsOptions): AsyncIterable<StoredEvent>;
  /** Start the cleanup of a drill; returns the cleanup execution's id. */
  cleanup(id: string, options: { by?: string; reason: string }): Promise<{ id: string; created: boolean }>;
  /** Approve a manual action the execution waits on. */
  approve(id: string, action: string, options?: { by?: string }): Promise<string>;
  close(): Promise<void>;
}

export type { EngineEvent, StoredEvent };
