/** A failed step's policy (the VM's or the action's onFailure) and its retry backoff. */
import type { FailurePolicy, PlanStep } from '../../plan/types.ts';
import type { JobContext } from '../../schedule/index.ts';

/** Steps with no policy of their own (barriers) fail the plan at once. */
export const NO_RETRY: FailurePolicy = {
  retries: 0,
  backoff: { initialMs: 0, factor: 1, maxMs: 0 },
  outcome: 'fail-plan',
};

/**
 * A protect's steps: the plan's failure policies are for its recoveries. Each VM is independent,
 * so one that fails leaves the others going, and is not retried: the run says which VM failed
 * with the host's answer, and running `drctl protect` again (idempotent) is the retry.
 */
export const PROTECT_POLICY: FailurePolicy = {
  retries: 0,
  backoff: { initialMs: 0, factor: 1, maxMs: 0 },
  outcome: 'continue-without-dependents',
};

export function failurePolicyOf(
  ctx: Pick<JobContext, 'plan' | 'vmsByName' | 'type'>,
  step: PlanStep,
): FailurePolicy {
  if (ctx.type === 'protect') return PROTECT_POLICY;
  // An action's step names the VM it is attached to (before or after it): its own policy first.
  if (step.action !== undefined)
    return ctx.plan.actions.find((a) => a.name === step.action)?.onFailure ?? NO_RETRY;
  if (step.vm !== undefined) return ctx.vmsByName.get(step.vm)?.onFailure ?? NO_RETRY;
  return NO_RETRY;
}

/** Backoff before attempt `attempt + 1`: initial × factor^(attempt−1), at most max. */
export function retryDelayMs(policy: FailurePolicy, attempt: number): number {
  return Math.min(policy.backoff.initialMs * policy.backoff.factor ** (attempt - 1), policy.backoff.maxMs);
}
