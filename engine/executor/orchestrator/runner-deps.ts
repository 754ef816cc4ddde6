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
}
