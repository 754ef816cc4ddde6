import type { Redis } from 'ioredis';
import type { Logger } from '../../common/index.ts';
import type { Direction, FailoverType, PlanStep, RecoveryPlan } from '../../plan/types.ts';
import type { BullJob } from '../../schedule/index.ts';
import type { QueueSet } from './queue-set.ts';
import type { ReconcileOutcome } from './reconcile.ts';

/** What the orchestrator needs of the plan compiler (engine/plan's compilePlan fits). */
export type CompileFn = (
  plan: RecoveryPlan,
  options: { type: FailoverType; direction: Direction },
) => { steps: ReadonlyMap<string, PlanStep>; estimate: { rtoMs: number }; waves?: string[][] };

/** A decision the engine took by itself (a drill cleaned up at its deadline), for the audit log. */
export interface EngineDecision {
  action: string;
  /** The execution the decision started. */
  execution: string;
  /** The execution it was taken about (the drill, the failback). */
  about?: string;
  epoch?: number;
  plan?: string;
  detail: string;
}

/** Where the engine's own decisions go (the control plane's audit log); never throws to the caller. */
export type DecisionSink = (decision: EngineDecision) => Promise<void>;

/** What a runner shares with its orchestrator. */
export interface RunnerDeps {
  redis: Redis;
  prefix: string;
  orchestratorId: string;
  leaseMs: number;
  blockMs: number;
  sweepIdleMs: number;
  now: () => number;
  log: Logger;
  compile: CompileFn;
  queues: QueueSet;
  reconcile: (jobs: readonly BullJob[]) => Promise<ReconcileOutcome>;
  /** Told what a person should hear of (OrchestratorOptions.onNotices), after it is recorded. */
  onNotices?: (notices: readonly ExecutionNotice[]) => Promise<unknown>;
  /** @defaultValue none: the decisions are logged only */
  decided?: DecisionSink;
}

/**
 * What an execution decided that a person should hear of (the control plane's notifications):
 * a manual action that waits for approval, a step that failed for good or was paused, a drill past
 * its deadline. Collected by ExecutionProgress as it decides them, not read back from the log.
 */
export type ExecutionNotice =
  | {
      kind: 'step-waiting-manual';
      execution: string;
      plan: string;
      executionType: string;
      step: string;
      site: string;
      attempt: number;
      at: string;
      instruction?: string;
    }
  | {
      kind: 'step-failed';
      execution: string;
      plan: string;
      executionType: string;
      step: string;
      site: string;
      vm?: string;
      attempt: number;
      at: string;
      error: { code: string; message: string };
      /** What follows: the plan fails, its dependents are skipped, or the step waits paused. */
      policy: string;
    }
  | { kind: 'drill-overdue'; execution: string; plan: string; deadline: string; status: string; at: string };
