import { DrError } from '../../common/index.ts';
import { isLifecycleType } from '../../contract/index.ts';
import type { PlanStep, RecoveryPlan } from '../../plan/types.ts';
import { sitesOf } from '../../schedule/index.ts';
import type { ExecutionRecord } from '../store/execution-record.ts';
import { cleanupSteps } from './cleanup-steps.ts';
import { lifecycleSteps } from './lifecycle-steps.ts';
import { protectSteps } from './protect-steps.ts';
import type { CompileFn } from './runner-deps.ts';

/** The step graph of an execution, from its stored snapshot (never the plan file). */
export function stepsFor(
  plan: RecoveryPlan,
  record: ExecutionRecord,
  compile: CompileFn,
): ReadonlyMap<string, PlanStep> {
  if (record.type === 'cleanup')
    return cleanupSteps(plan, sitesOf({ plan, direction: record.direction }).toSite);
  const type = record.type;
  if (type === 'protect') {
    const steps = protectSteps(plan, record.protect?.sites ?? {});
    if (steps.size !== record.stepsTotal) throw mismatch(record, steps.size);
    return steps;
  }
  if (isLifecycleType(type)) {
    const steps = lifecycleSteps(type, plan, sitesOf({ plan, direction: record.direction }));
    if (steps.size !== record.stepsTotal) throw mismatch(record, steps.size);
    return steps;
  }
  const steps = compile(plan, { type, direction: record.direction }).steps;
  if (steps.size !== record.stepsTotal) throw mismatch(record, steps.size);
  return steps;
}

function mismatch(record: ExecutionRecord, size: number): DrError {
  return new DrError(
    'PLAN_COMPILE_MISMATCH',
    `execution ${record.id}: its plan snapshot compiles to ${size} steps, not the ${record.stepsTotal} it was submitted with; this engine version compiles plans differently — finish it with the version that started it`,
  );
}
