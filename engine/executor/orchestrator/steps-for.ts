import { DrError } from '../../common/index.ts';
import type { PlanStep, RecoveryPlan } from '../../plan/types.ts';
import { sitesOf } from '../schedule/job-data.ts';
import type { ExecutionRecord } from '../store/execution-record.ts';
import { cleanupSteps } from './cleanup-steps.ts';
import type { CompileFn } from './runner-deps.ts';

/** The step graph of an execution, from its stored snapshot (never the plan file). */
export function stepsFor(
  plan: RecoveryPlan,
  record: ExecutionRecord,
  compile: CompileFn,
): ReadonlyMap<string, PlanStep> {
  if (record.type === 'cleanup')
    return cleanupSteps(plan, sitesOf({ plan, direction: record.direction }).toSite);
  const steps = compile(plan, { type: record.type, direction: record.direction }).steps;
  if (steps.size !== record.stepsTotal) {
    throw new DrError(
      'PLAN_COMPILE_MISMATCH',
      `execution ${record.id}: its plan snapshot compiles to ${steps.size} steps, not the ${record.stepsTotal} it was submitted with; this engine version compiles plans differently — finish it with the version that started it`,
    );
  }
  return steps;
}
