import type { Logger } from '../../common/index.ts';
import type {
  DataLossClaim,
  ExecutionEvent,
  StepJobData,
  StepOutcome,
  StepResult,
  VmPhase,
} from '../../contract/index.ts';
import type { HostDriver, RecoveryPoint, VmView } from '../../hosts/index.ts';
import type { SightingStore } from '../../locks/index.ts';

/** Tunables of the step handlers. Every field has a default; tests shorten the waits. */
export interface HandlerOptions {
  /**
   * Folder of the script catalog: a script action `name` runs `<catalog>/<name>`,
   * `<catalog>/<name>.sh` or `<catalog>/<name>.mjs`.
   * @defaultValue process.env.DR_SCRIPT_CATALOG, else script actions fail with SCRIPT_CATALOG_UNSET
   */
  scriptCatalog?: string;
  /**
   * How long a boot waits for a slot when its host is at its concurrent-boot limit before the step
   * fails with HOST_BOOT_LIMIT (retryable).
   * @defaultValue 600_000
   */
  bootSlotWaitMs?: number;
  /**
   * First pause after a HOST_BOOT_LIMIT refusal; doubles up to 500 ms, with jitter.
   * @defaultValue 10
   */
  bootRetryInitialMs?: number;
  /**
   * First pause between two readiness probes (TCP/HTTP) that did not answer yet; it grows to 1 s.
   * @defaultValue 50
   */
  probeIntervalMs?: number;
  /**
   * First pause between two reads of a VM being waited for (stopping, or powering on when running
   * is all its readiness asks); it grows to 1 s.
   * @defaultValue 25
   */
  pollIntervalMs?: number;
  /**
   * Bytes of a script's stdout / stderr (each) kept in the step result; the tail is kept.
   * @defaultValue 8192
   */
  outputLimitBytes?: number;
}

export type ResolvedHandlerOptions = Required<Omit<HandlerOptions, 'scriptCatalog'>> & {
  scriptCatalog: string | undefined;
};

export function resolveHandlerOptions(options: HandlerOptions = {}): ResolvedHandlerOptions {
  return {
    scriptCatalog: options.scriptCatalog ?? process.env.DR_SCRIPT_CATALOG,
    bootSlotWaitMs: options.bootSlotWaitMs ?? 600_000,
    bootRetryInitialMs: options.bootRetryInitialMs ?? 10,
    probeIntervalMs: options.probeIntervalMs ?? 50,
    pollIntervalMs: options.pollIntervalMs ?? 25,
    outputLimitBytes: options.outputLimitBytes ?? 8192,
  };
}

/** What a handler works with: the host API, the job, a bound logger and a way to report phases. */
export interface HandlerContext {
  api: HostDriver;
  job: StepJobData;
  /** The BullMQ job id (stable across repeats of the same job). */
  jobId: string;
  /** The step this handler carries out (one of job.steps). */
  step: string;
  log: Logger;
  /** Aborted when the worker shuts down; long waits stop early. */
  signal: AbortSignal;
  options: ResolvedHandlerOptions;
  /**
   * What the engine saw of primaries (engine/locks sightings): handlers record the reads and
   * power-offs a data-loss claim is made of; the failover handler reads them. Absent in handler
   * tests that run without Redis: then nothing is recorded and claims rest on the job's own reads.
   */
  sightings?: SightingStore;
  /**
   * The VM as the previous step of this job left it (the host's answer to that step's last call),
   * so the next step need not read it again. Absent for a job's first step.
   */
  known?: VmView;
  /**
   * Set for a fence job the orchestrator already recorded final (warned at the fencing deadline)
   * that runs now its site's agent is back; `failedOver` when the VM's failover at the target was
   * done by then: an old primary found running has run in two sites (a divergence).
   */
  late?: { failedOver: boolean };
  /**
   * What the earlier steps of this job run reported (their outputs, by step id): a change of
   * point's revert tells the steps after it which point the VM ran from, to fall back to.
   */
  earlier?: Readonly<Record<string, Record<string, unknown>>>;
}

/** What a handler returns for its step. */
export interface HandlerOutcome {
  outcome: Exclude<StepOutcome, 'failed'>;
  /** False when the state check found the work done and no mutating call was made. */
  mutated: boolean;
  output?: Record<string, unknown>;
  recoveryPoint?: RecoveryPoint;
  /** A failover's data-loss claim (engine/contract/data-loss.ts). */
  dataLoss?: DataLossClaim;
  /** Warnings (readiness timeout with onTimeout: warn) carry an error for the operator. */
  error?: StepResult['error'];
  /** The VM as the host last reported it, for the job's next step. */
  view?: VmView;
  /** What the operator reads in the VM's phase event after the step (fence: fenced or not, why). */
  detail?: string;
  /** The VM's phase after the step, when it is not the step kind's usual one (dispatch.ts PHASE_AFTER). */
  phase?: VmPhase;
  /** Events to append after the step's end (a fence that found a divergence: `diverged`). */
  events?: ExecutionEvent[];
}

export type StepHandler = (ctx: HandlerContext) => Promise<HandlerOutcome>;
