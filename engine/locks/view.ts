/**
 * `drctl locks show|release` as data: who holds a plan and its VMs (or everything held under the
 * prefix), and the operator's forced release. The CLI prints it; the control plane serves it.
 */
import type { Redis } from 'ioredis';
import { InputError } from '../common/index.ts';
import { readFailedOver } from './failed-over.ts';
import { readAllLocks } from './list.ts';
import { forceRelease, readLocks, readPlanLock } from './locks.ts';
import type { FailedOverRecord, LockConflict, LockHolder } from './types.ts';

/** What is held, as `drctl locks show --json` prints it. */
export type LocksView =
  | {
      /** Asked about a plan and/or VMs: the plan's holder (null: free), each VM's, its failed-over record. */
      plan: LockHolder | null;
      vms: Record<string, LockHolder>;
      failedOver: Record<string, FailedOverRecord>;
    }
  | {
      /** Asked about nothing in particular: every lock held and every VM failed over. */
      plans: Record<string, LockHolder>;
      vms: Record<string, LockHolder>;
      failedOver: Record<string, FailedOverRecord>;
    };

export interface LocksQuery {
  plan?: string;
  vms?: readonly string[];
}

export async function locksView(redis: Redis, prefix: string, query: LocksQuery): Promise<LocksView> {
  const vms = query.vms ?? [];
  if (query.plan === undefined && vms.length === 0) {
    const all = await readAllLocks(redis, prefix);
    return {
      plans: Object.fromEntries(all.plans),
      vms: Object.fromEntries(all.vms),
      failedOver: Object.fromEntries(all.failedOver),
    };
  }
  const plan = query.plan === undefined ? undefined : await readPlanLock(redis, prefix, query.plan);
  return {
    plan: plan ?? null,
    vms: Object.fromEntries(await readLocks(redis, prefix, vms)),
    failedOver: Object.fromEntries(await readFailedOver(redis, prefix, vms)),
  };
}

/** Free the plan lock and VM locks whoever holds them; naming neither is bad input. */
export async function releaseHeldLocks(
  redis: Redis,
  prefix: string,
  query: LocksQuery,
): Promise<{ released: LockConflict[] }> {
  const vms = query.vms ?? [];
  if (query.plan === undefined && vms.length === 0)
    throw new InputError('LOCKS_NOTHING', 'give --plan and/or --vms');
  return {
    released: await forceRelease(redis, prefix, {
      ...(query.plan === undefined ? {} : { plan: query.plan }),
      vms,
    }),
  };
}
