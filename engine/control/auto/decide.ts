/**
 * What the automation does for one plan when its source site is lost (pure: the caller reads the
 * arming, the maintenance mode and the inventory, and acts on the answer).
 */
import type { AutomaticFailoverPolicy } from '../../plan/types.ts';

export interface ArmRecord {
  plan: string;
  /** The plan version armed (its hash): a newer upload is not armed until an admin re-arms. */
  hash: string;
  /** The plan's source site when armed. */
  site: string;
  armedBy: string;
  armedAt: string;
  /** Each arming's own id: names its notifications and audit entries. */
  armId: string;
  /** The automatic failover this arming started: spent, nothing more until re-armed. */
  spent?: { execution: string; at: string };
}

export interface DecisionInput {
  policy: AutomaticFailoverPolicy;
  arm?: ArmRecord;
  /** The plan version stored now (a newer one than the armed one is not armed). */
  hash: string;
  /** Maintenance mode of the source site, while it lasts. */
  maintenance?: { until: string; by: string };
  /** The widest data-loss window over the plan's VMs; undefined: some VM has no recovery point. */
  dataLossWindowMs?: number;
  /** The automation's own drill: no arming needed, nothing spent, maintenance does not apply. */
  drill: boolean;
  /**
   * Whether the source site's host guards were known to work for the plan's VMs (guards.ts). An
   * automatic failover (not a drill: nothing is fenced in one) needs it: without it a site whose
   * agent died first was fenced by nothing. Absent: not known to work.
   */
  guard?: { working: true } | { working: false; why: string };
}

export type Decision =
  /** Nothing to do and nobody to tell (not armed: the plan is not the automation's). */
  | { kind: 'ignore'; why: string }
  /** Tell people and start nothing (mode notify-only, maintenance, spent, not durable...). */
  | { kind: 'notify'; why: string }
  /** Tell people it was refused, and wait for a person. */
  | { kind: 'refuse'; reason: string; code: string }
  /** Open the veto window, then submit. */
  | { kind: 'failover' };

export function decideAutoFailover(input: DecisionInput): Decision {
  const { policy, arm } = input;
  if (!policy.enabled) return { kind: 'ignore', why: 'automaticFailover.enabled is false in the plan' };
  if (!input.drill) {
    if (arm === undefined) return { kind: 'ignore', why: 'not armed (drctl auto arm)' };
    if (arm.hash !== input.hash)
      return {
        kind: 'refuse',
        code: 'ARMED_VERSION_REPLACED',
        reason: `the armed version ${arm.hash.slice(0, 12)} is no longer the plan's newest (${input.hash.slice(0, 12)}): an admin must re-arm the new version`,
      };
    if (arm.spent !== undefined)
      return {
        kind: 'notify',
        why: `already failed over automatically once (${arm.spent.execution}); re-arm for another`,
      };
    if (input.maintenance !== undefined)
      return {
        kind: 'notify',
        why: `site ${arm.site} is in maintenance until ${input.maintenance.until} (set by ${input.maintenance.by})`,
      };
  }
  if (policy.mode === 'notify-only') return { kind: 'notify', why: 'mode notify-only' };
  if (!input.drill && input.guard?.working !== true)
    return {
      kind: 'refuse',
      code: 'NO_WORKING_GUARD',
      reason: `no working guard on the hosts of site ${arm?.site ?? '?'}: ${input.guard?.working === false ? input.guard.why : 'its guard was never judged'}; the old primaries may still run: a person must decide`,
    };
  if (policy.maxDataLossMs === undefined)
    return {
      kind: 'refuse',
      code: 'NO_DATA_LOSS_BOUND',
      reason: 'the plan sets neither automaticFailover.maxDataLoss nor targets.rpo',
    };
  if (input.dataLossWindowMs === undefined)
    return {
      kind: 'refuse',
      code: 'NO_RECOVERY_POINT',
      reason: 'a VM of the plan has no recovery point at the target: its data-loss window is unknown',
    };
  if (input.dataLossWindowMs > policy.maxDataLossMs)
    return {
      kind: 'refuse',
      code: 'BEYOND_MAX_DATA_LOSS',
      reason: `the data-loss window is ${Math.round(input.dataLossWindowMs / 1000)} s, beyond maxDataLoss ${Math.round(policy.maxDataLossMs / 1000)} s`,
    };
  return { kind: 'failover' };
}
