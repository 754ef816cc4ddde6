/**
 * The validated, normalized recovery plan: what the rest of the engine reads. The YAML schema
 * (schema.ts) parses into these types; durations are milliseconds, defaults are filled in, and
 * every name reference has been checked. This file is a contract between engine/plan and the
 * executor: extend it, do not rename.
 */

/** Milliseconds. */
export type DurationMs = number;

export type FailoverType = 'test' | 'planned' | 'unplanned';
/** forward: spec.source → spec.target. failback: spec.target → spec.source. */
export type Direction = 'forward' | 'failback';

export type RecoveryPointChoice =
  | { kind: 'latest' }
  | { kind: 'latestProcessed' }
  | { kind: 'latestAppConsistent' }
  | { kind: 'at'; at: string /* ISO-8601 */ };

export type ReadinessCheck =
  | { kind: 'heartbeat' }
  | { kind: 'tcp'; port: number }
  | { kind: 'http'; port: number; path: string; expectStatus: number }
  | { kind: 'delay'; ms: DurationMs };

export interface Readiness {
  /** All must pass. Empty means "powered on is ready". */
  checks: ReadinessCheck[];
  timeoutMs: DurationMs;
  onTimeout: 'fail' | 'warn';
}

export type FailureOutcome = 'fail-plan' | 'continue-without-dependents' | 'pause';

export interface FailurePolicy {
  retries: number;
  backoff: { initialMs: DurationMs; factor: number; maxMs: DurationMs };
  /** What happens once the retries are spent (written `then:` in the YAML). */
  outcome: FailureOutcome;
}

export interface NetworkBinding {
  network: string;
  ip?: string;
}

export interface PlanVm {
  name: string;
  /** Direct dependencies as written (dependsOn), not including those implied by groups. */
  dependsOn: string[];
  readiness: Readiness;
  bootEstimateMs: DurationMs;
  network: { failover?: NetworkBinding; test?: NetworkBinding };
  /** Per-VM override of spec.recoveryPoint. */
  recoveryPoint?: RecoveryPointChoice;
  onFailure: FailurePolicy;
  /** Index into RecoveryPlan.groups when the VM belongs to an ordered group. */
  group?: number;
}

export interface PlanGroup {
  name: string;
  vms: string[];
}

export type ActionRun =
  | { type: 'script'; script: string; runOn: 'control' | 'target'; args: Record<string, string> }
  | { type: 'webhook'; url: string; headers: Record<string, string> }
  | { type: 'manual'; instruction: string };

export interface PlanAction {
  name: string;
  when: 'before' | 'after';
  /** Exactly one of vm / group is set. */
  vm?: string;
  group?: string;
  run: ActionRun;
  timeoutMs: DurationMs;
  on: FailoverType[];
  directions: Direction[];
  onFailure: FailurePolicy;
  undo?: ActionRun;
  /** Expected duration for RTO estimates (engine/plan/estimate.ts documents the defaults). */
  estimateMs?: DurationMs;
}

export interface RecoveryPlan {
  apiVersion: 'dr/v1';
  kind: 'RecoveryPlan';
  metadata: { name: string; description?: string; labels: Record<string, string> };
  source: string;
  target: string;
  recoveryPoint: RecoveryPointChoice;
  vms: PlanVm[];
  groups: PlanGroup[];
  actions: PlanAction[];
  targets: { rtoMs?: DurationMs; rpoMs?: DurationMs };
  /** Drills left running longer than this are cleaned up by the engine. Default 24h. */
  drill: { maxDurationMs: DurationMs };
  /**
   * Unplanned failover: the wait for the source to fence its VMs before failing over without it.
   * Default 60s (the normalizer fills it in; plan snapshots stored by older versions lack it).
   */
  fencing?: { deadlineMs: DurationMs };
  automaticFailover: AutomaticFailoverPolicy;
}

/** A located problem in a plan file. Lines and columns are 1-based. */
export interface PlanIssue {
  code: string;
  message: string;
  file: string;
  line: number;
  column: number;
  /** YAML path, e.g. spec.vms[3].dependsOn[0] */
  path: string;
  severity: 'error' | 'warning';
  hint?: string;
}

/**
 * `barrier` is a no-op join point (site 'control', estimate 0) that keeps group ordering and the
 * planned-failover "all shutdowns before any failover" rule at O(n) edges instead of O(n²). An
 * executor completes it as soon as its predecessors are done.
 */
/**
 * What a step does. `return` is a cancel's only: it brings a VM back up at the recovery site when
 * its primary could not be restarted at the source (orchestrator/lifecycle-steps.ts).
 */
export type StepKind =
  | 'action'
  | 'fence'
  | 'shutdown'
  | 'failover'
  | 'boot'
  | 'readiness'
  | 'barrier'
  | 'return';

export interface PlanStep {
  /**
   * Stable id, safe in a BullMQ job id (no ':'): `<vm>/<kind>` (`<vm>/fence` at the source in an
   * unplanned failover), `action/<name>`, or for barriers
   * `barrier/shutdown`, `barrier/group/<group>` and `barrier/group/<group>/shutdown`.
   */
  id: string;
  kind: StepKind;
  vm?: string;
  action?: string;
  /** The ordered group this step belongs to or joins (barriers and group-level actions). */
  group?: string;
  /** Where the step runs: a site name, or 'control' for control-plane actions. */
  site: string;
  estimateMs: DurationMs;
  /** Step ids that must finish before this one starts. */
  after: string[];
  /** Step ids that wait for this one. */
  before: string[];
}

/** spec.automaticFailover, with its defaults (issue 13: the site monitor acts on it once armed). */
export interface AutomaticFailoverPolicy {
  /** The plan may be armed for automatic failover (an admin arms it). */
  enabled: boolean;
  /** `notify-only`: a lost source site is told to people and nothing starts. */
  mode: 'failover' | 'notify-only';
  /** From the lost site's last lease renewal; at least the site lease. */
  afterMs: DurationMs;
  /** The point an automatic failover fails over to. */
  recoveryPoint: RecoveryPointChoice;
  /** The largest data-loss window it may accept (targets.rpo unless given); none: no bound set. */
  maxDataLossMs?: DurationMs;
  /** How long an operator may stop it before its first step. */
  vetoMs: DurationMs;
}
