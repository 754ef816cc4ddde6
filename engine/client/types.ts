/**
 * The one interface the CLI (and later the dashboard) uses to run and watch executions: on Redis
 * directly (redis-client.ts) or through the control plane's API (http-client.ts).
 */
import type { EngineEvent, ExecutionRecord, StoredEvent, SubmitRequest, VmPhase } from '../executor/index.ts';
import type { VmWhere } from '../machines/index.ts';
import type { Direction, FailoverType, RecoveryPlan, RecoveryPointChoice } from '../plan/types.ts';
import type { PreflightReport, Selection } from '../preflight/index.ts';

/** What pre-flight checks: the run, and the part of the plan it covers. */
export interface PreflightOptions {
  type: FailoverType;
  plan: RecoveryPlan;
  /** @defaultValue 'forward' */
  direction?: Direction;
  /**
   * Part of the plan (`--vms a,b`, `--group N|name`, the union when both): the execution's stored
   * plan is the sub-plan, and dependencies outside it must already run at the target.
   * Unknown names are an InputError (exit 2). @defaultValue the whole plan
   */
  selection?: Selection;
  /** Run-time choice (unplanned failover, drill): it wins over the plan's and each VM's own. */
  recoveryPoint?: RecoveryPointChoice;
  /** Blockers the operator accepts for this run (pre-flight's ACCEPTABLE_BLOCKERS only). */
  accept?: readonly string[];
  /** Block above this share of the target site's capacity (0.8 keeps 20 % headroom). @defaultValue 1 */
  maxUtilization?: number;
  /**
   * The plan's YAML as read (file name and text). A client of the control plane uploads it as a
   * version of the plan before the run, which then runs that version by hash; the Redis client
   * does not need it. @defaultValue none: the version must already be in the vault
   */
  source?: { file: string; text: string };
}

export interface SubmitOptions extends PreflightOptions {
  /** Content hash of the plan (engine/plan's planHash). */
  hash: string;
  /** @defaultValue the OS user name */
  by?: string;
  reason: string;
  /** Measured before submitting an unplanned failover; stored and logged with it. */
  recoveryPointGap?: ExecutionRecord['recoveryPointGap'];
  /** Manual actions count as approved. @defaultValue false */
  approveManual?: boolean;
  /**
   * A planned failback: the engine reverses replication to the original direction once every VM
   * is home, and the failback settles only when that reprotect ended. @defaultValue false
   */
  thenReprotect?: boolean;
  /**
   * The engine's own automatic failover (engine/control/auto): its evidence, and the durability
   * wait before it becomes runnable (executor SubmitRequest `automatic`, `makeDurable`). Only the
   * control plane's automation sets these; the HTTP API has no field for them.
   */
  automatic?: SubmitRequest['automatic'];
  makeDurable?: SubmitRequest['makeDurable'];
}

export interface SubmitResult {
  id: string;
  epoch: number;
  stepsTotal: number;
  estimateMs: number;
  /** The pre-flight that let it start (its VMs, placement, warnings). */
  preflight: PreflightReport;
  /** An unplanned failover's recovery-point gap, when the control plane measured it (none given). */
  recoveryPointGap?: ExecutionRecord['recoveryPointGap'];
}

/** An execution with its live progress. */
export interface ExecutionView extends ExecutionRecord {
  /** Phase of each VM (from the VM machines); only when asked for with `vms: true`. */
  vms?: Record<string, VmPhase>;
  /**
   * Where each VM runs, from the states the engine recorded (engine/machines vm-where.ts): at a
   * site, or nowhere (off at the source, not yet started at the target); only with `vms: true`.
   */
  where?: Record<string, VmWhere>;
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
  /**
   * Pre-flight, then the execution: nothing is stored unless every check passes and the plan lock
   * and each selected VM's lock were taken in one atomic step (two submits of one plan: exactly one
   * starts). Throws PreflightBlockedError (exit 1) with the whole report when anything blocks, an
   * InputError (exit 2) for a bad selection or `accept`.
   */
  submit(options: SubmitOptions): Promise<SubmitResult>;
  /** Pre-flight only (`--dry-run`): reads the sites and the locks, takes nothing, starts nothing. */
  preflight(options: PreflightOptions & { exactPoints?: boolean }): Promise<PreflightReport>;
  get(id: string, options?: { vms?: boolean }): Promise<ExecutionView>;
  /** Newest first. */
  list(options?: { limit?: number }): Promise<ExecutionRecord[]>;
  events(id: string, options?: EventsOptions): AsyncIterable<StoredEvent>;
  /** Start the cleanup of a drill; returns the cleanup execution's id. */
  cleanup(id: string, options: { by?: string; reason: string }): Promise<{ id: string; created: boolean }>;
  /** Approve a manual action the execution waits on. */
  approve(id: string, action: string, options?: { by?: string; comment?: string }): Promise<string>;
  close(): Promise<void>;
}

export type { EngineEvent, StoredEvent };
