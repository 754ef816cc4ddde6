import { createHash } from 'node:crypto';
import { configure } from 'safe-stable-stringify';
import type { RecoveryPlan } from './types.ts';

/**
 * Sorted keys at every level, and a throw (a bug of ours, reported as an internal error by
 * parsePlan) rather than a silent drop for anything JSON cannot hold: NaN, a function, a cycle.
 */
const stableStringify = configure({ deterministic: true, strict: true, circularValue: Error });

/**
 * The plan's content hash: sha256 (hex) of a canonical JSON of the *normalized* plan. Hashing the
 * normalized form rather than the file means comments, formatting, key order, flow vs block style
 * and spelled-out defaults do not change the hash, while anything that changes what an execution
 * would do does. An execution records this hash to name exactly the version it ran.
 *
 * The canonical form is the whole normalized plan with its keys sorted at every level, so a field
 * added to RecoveryPlan is in the hash without anyone remembering to add it. Arrays keep their
 * order: where order carries no meaning (an action's `on`), normalizePlan already made it canonical.
 */
export function planHash(plan: RecoveryPlan): string {
  return createHash('sha256').update(canonicalPlanJson(plan)).digest('hex');
}

export function canonicalPlanJson(plan: RecoveryPlan): string {
  return stableStringify(plan);
}
