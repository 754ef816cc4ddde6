/**
 * What crosses between the orchestrator and a site's workers: the BullMQ job payload and result
 * of a step job, the queue naming, and the versioned events of the execution's log (a Redis
 * stream). This file is the contract between the orchestration core and the step handlers:
 * extend it (bump the version when a field changes meaning), do not rename.
 */

import type {
  Direction,
  FailoverType,
  NetworkBinding,
  PlanAction,
  Readiness,
  RecoveryPointChoice,
} from '../plan/types.ts';
import type { DataLossClaim } from './data-loss.ts';

/**
 * The lifecycle operations a DR admin runs on a failover once it has run (engine/executor
 * orchestrator/lifecycle-steps.ts): complete it, fail over again to another recovery point, roll it
 * back, reverse its replication. A failback is a planned failover in direction `failback`.
 */
export const LIFECYCLE_TYPES = ['commit', 'change-point', 'cancel', 'reprotect'] as const;
export type LifecycleType = (typeof LIFECYCLE_TYPES)[number];

/**
 * Execution kinds. `cleanup` removes a drill's test VMs; the lifecycle kinds act on a failover;
 * `protect` sets the automatic start action of a plan's primaries (`drctl protect`, one
 * `<vm>/protect` step per VM at the site where it runs as the primary).
 */
export type ExecutionType = FailoverType | 'cleanup' | LifecycleType | 'protect';

/** Every ExecutionType, for the schemas that read one back from Redis. */
export const EXECUTION_TYPES = [
  'test',
  'planned',
  'unplanned',
  'cleanup',
  ...LIFECYCLE_TYPES,
  'protect',
] as const satisfies readonly ExecutionType[];

/**
 * Get-VM's AutomaticStartAction (engine/hosts' type of the same name): what a host does with the
 * VM when the host (re)starts. A protect execution sets it on the plan's primaries.
 */
export const AUTOMATIC_START_ACTIONS = ['Nothing', 'StartIfRunning', 'Start'] as const;
export type AutomaticStartActionName = (typeof AUTOMATIC_START_ACTIONS)[number];

export function isLifecycleType(type: string): type is LifecycleType {
  return (LIFECYCLE_TYPES as readonly string[]).includes(type);
}

/**
 * Job id of the completion `drctl cancel` writes to a running execution's completions stream: the
 * orchestrator stops dispatching at once (its result's first step output carries the reason).
 */
export const CANCEL_JOB_ID = 'cancel';

/** BullMQ queue of a site's workers: `site.<site>`; control-plane actions: `control`. */
export function siteQueueName(site: string): string {
  return `site.${site}`;
}
export const CONTROL_QUEUE = 'control';

/** Deterministic job id (no ':'): `<execution>.<step>`, `.a<N>` appended for attempt N > 1. */
export function stepJobId(execution: string, jobKey: string, attempt = 1): string {
  const base = `${execution}.${jobKey}`;
  return attempt > 1 ? `${base}.a${attempt}` : base;
}

/**
 * The kinds of work a step job carries out: the plan's step kinds that run on a queue, plus
 * `cleanup` (a cleanup execution removes a drill's test VM; step id `<vm>/cleanup`). `fence`
 * (unplanned failover, source site, step id `<vm>/fence`) turns the old primary off and bars it.
 * `protect` (step id `<vm>/protect`, at the site where the VM runs as the primary) sets its
 * automatic start action.
 */
export type JobStepKind =
  | 'action'
  | 'fence'
  | 'shutdown'
  | 'failover'
  | 'boot'
  | 'readiness'
  | 'cleanup'
  | 'protect'
  | LifecycleStepKind;

/**
 * Steps of the lifecycle executions: `<vm>/commit`, `<vm>/change-point`, `<vm>/revert` (the
 * replica side of a cancel) and `<vm>/restore` (its primary side), `<vm>/reprotect` and
 * `<vm>/resync` (following the reversed replication until it is healthy); `<vm>/return` (a cancel
 * whose restore could not reach the source brings the VM back up at the recovery site).
 */
export type LifecycleStepKind =
  | 'commit'
  | 'change-point'
  | 'revert'
  | 'restore'
  | 'return'
  | 'reprotect'
  | 'resync';

const JOB_STEP_KINDS: readonly JobStepKind[] = [
  'fence',
  'shutdown',
  'failover',
  'boot',
  'readiness',
  'cleanup',
  'protect',
  'commit',
  'change-point',
  'revert',
  'restore',
  'return',
  'reprotect',
  'resync',
];

/**
 * The kind of a step from its id (`<vm>/<kind>` or `action/<name>`, see PlanStep.id); undefined for
 * ids no worker runs (barriers, unknown kinds).
 */
export function jobStepKind(stepId: string): JobStepKind | undefined {
  if (stepId.startsWith('action/')) return 'action';
  const slash = stepId.lastIndexOf('/');
  if (slash <= 0) return undefined;
  const suffix = stepId.slice(slash + 1);
  return JOB_STEP_KINDS.find((kind) => kind === suffix);
}

export interface StepJobData {
  v: 1;
  execution: string;
  /** Fencing token the execution runs under; every host call carries it. */
  epoch: number;
  type: ExecutionType;
  direction: Direction;
  /** Site whose workers run the job (or 'control'). */
  site: string;
  /** Sites of this execution's direction. */
  fromSite: string;
  toSite: string;
  /** Step ids this job carries out in order (several steps of one VM at one site may be one job). */
  steps: string[];
  /** The plan's name (scripts and webhooks receive it as DR_PLAN / `plan`). */
  plan?: string;
  vm?: string;
  recoveryPoint?: RecoveryPointChoice;
  /**
   * A cancel's `<vm>/return`: the point the VM ran from (its revert reported it), which it fails
   * over from again.
   */
  fromPoint?: { id: string; time: string };
  network?: NetworkBinding;
  readiness?: Readiness;
  action?: PlanAction;
  /** A protect execution: the automatic start action its `<vm>/protect` steps set. */
  automaticStartAction?: AutomaticStartActionName;
  attempt: number;
}

export type StepOutcome = 'done' | 'failed' | 'warned' | 'skipped';

export interface StepResult {
  id: string;
  outcome: StepOutcome;
  startedAt: string;
  endedAt: string;
  /** What a user should read when it failed: what, where, what to do. */
  error?: { code: string; message: string; retryable: boolean };
  output?: Record<string, unknown>;
}

export interface StepJobResult {
  v: 1;
  steps: StepResult[];
  /** For failover steps: the point used (its time is that of the newest data it holds). */
  recoveryPoint?: { id: string; time: string };
  /** For planned and unplanned failovers and changes of point: the VM's data-loss claim (data-loss.ts). */
  dataLoss?: DataLossClaim;
  /** True when the handler found the work already done (a repeated job) and made no mutating call. */
  alreadyDone?: boolean;
  /**
   * The steps of the follow units (StepBatchData.follows) the worker claimed, atomically with
   * publishing this result, and runs next in the same job: the orchestrator records them queued
   * in that job instead of dispatching them. Set by the worker, not by handlers.
   */
  claimed?: string[][];
}

/** A VM's phase as shown to operators, in the order a failover moves through them. */
export const VM_PHASES = [
  'waiting',
  'shutting-down',
  'failing-over',
  'booting',
  'awaiting-readiness',
  'ready',
  'cleaning-up',
  'cleaned-up',
  'failed',
  'committing',
  'committed',
  'rolling-back',
  'rolled-back',
  'reprotecting',
  'protected',
] as const;
export type VmPhase = (typeof VM_PHASES)[number];

/** Who noticed a divergence: a fence job that ran late, the agent's fence sweep, or reprotect's check. */
export const DIVERGENCE_DETECTORS = ['late-fence', 'fence-sweep', 'reprotect-check'] as const;
export type DivergenceDetector = (typeof DIVERGENCE_DETECTORS)[number];

/**
 * A VM that ran in two sites: its old primary was seen running at `site` (Get-VM: Running or
 * Starting, replication mode Primary) after the VM failed over to `runsAt`. Times are host time
 * (the hosts' clock, simulated in the simulator), from what Hyper-V shows: `ranFrom` is when the
 * old primary started (now − Get-VM's Uptime), `ranUntil` when it was last seen running (fenced).
 */
export interface Divergence {
  vm: string;
  /** The site where the old primary ran. */
  site: string;
  /** The site the VM failed over to. */
  runsAt: string;
  ranFrom: string;
  ranUntil: string;
  /** ranUntil − ranFrom, host time. */
  ranMs: number;
  /** Turned off and barred (fenceVM) when seen; false: it may still run. */
  fenced: boolean;
  /**
   * What a reprotect would overwrite on the old primary (Set-VMReplication -Reverse resynchronizes
   * it from the recovered VM): its writes since `since` (its last replication, Get-VMReplication),
   * `bytes` of them pending (Measure-VMReplication), when the host answered.
   */
  discard: { since?: string; bytes?: number };
  detectedBy: DivergenceDetector;
}

/** Version of the event schema below; readers reject versions they do not know. */
export const EVENT_SCHEMA_VERSION = 1;

export type ExecutionEvent =
  | {
      v: 1;
      at: string;
      type: 'execution-submitted';
      execution: string;
      plan: string;
      hash: string;
      executionType: ExecutionType;
      by: string;
      reason: string;
      epoch: number;
    }
  | { v: 1; at: string; type: 'execution-started'; execution: string; orchestrator: string }
  | {
      v: 1;
      at: string;
      type: 'execution-resumed';
      execution: string;
      orchestrator: string;
      pendingSteps: number;
    }
  | {
      v: 1;
      at: string;
      type: 'execution-finished';
      execution: string;
      status: 'completed' | 'failed' | 'cancelled';
      /**
       * Achieved RTO of a recovery (drill, failover, failback) that reached its end: from submit
       * (time queued with no orchestrator included) to the last VM ready, wall-clock ms. Absent for
       * a failed or cancelled run, a cleanup and the lifecycle executions (commit, change-point,
       * cancel, reprotect): they recover nothing.
       */
      rtoMs?: number;
      /** Submit to finish, wall-clock ms, for every execution. Absent in events written before it. */
      durationMs?: number;
      /**
       * The orchestrator's start (first dispatch) to finish, wall-clock ms: what the benches measure,
       * so their figures stay comparable. Absent in events written before it.
       */
      runMs?: number;
    }
  | {
      v: 1;
      at: string;
      type: 'vm-phase';
      execution: string;
      vm: string;
      site: string;
      phase: VmPhase;
      detail?: string;
    }
  | { v: 1; at: string; type: 'step-started'; execution: string; step: string; site: string; attempt: number }
  | {
      v: 1;
      at: string;
      type: 'step-finished';
      execution: string;
      step: string;
      site: string;
      outcome: StepOutcome;
      attempt: number;
      output?: Record<string, unknown>;
      error?: StepResult['error'];
    }
  | ({ v: 1; at: string; type: 'diverged'; execution: string } & Divergence);
