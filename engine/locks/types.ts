import { z } from 'zod';
import type { PrimarySighting } from '../contract/index.ts';

/** Who holds a lock: the execution, its plan and the operation it runs. */
export interface LockHolder {
  execution: string;
  plan: string;
  /** The operation the execution runs (test, planned, unplanned, failback, cleanup, ...). */
  operation?: string;
  /** When the lock was first taken, ISO-8601 (wall clock of the orchestrator). */
  since: string;
}

export const lockHolderSchema: z.ZodType<LockHolder> = z.object({
  execution: z.string(),
  plan: z.string(),
  operation: z.string().optional(),
  since: z.string(),
});

/** One lock that another execution holds. */
export interface LockConflict {
  kind: 'plan' | 'vm';
  /** Plan name or VM name. */
  name: string;
  holder: LockHolder;
}

export type AcquireResult =
  | {
      ok: true /** Locks newly taken (already-held ones of the same execution are not counted). */;
      acquired: number;
    }
  | { ok: false; conflicts: LockConflict[] };

/**
 * The durable record that a plan's execution failed a VM over. It outlives the execution's
 * locks: another plan may not fail the VM over again until a failback, or a commit followed by
 * reprotect, clears it.
 */
export interface FailedOverRecord {
  plan: string;
  execution: string;
  /** The site the VM now runs in. */
  site: string;
  direction: 'forward' | 'failback';
  /** ISO-8601. */
  at: string;
  /**
   * The epoch the VM was last started under there, when it is not `execution`'s own: a cancel
   * that brought the VM back up at the recovery site did so under its return epoch.
   */
  epoch?: number;
}

export const failedOverRecordSchema: z.ZodType<FailedOverRecord> = z.object({
  plan: z.string(),
  execution: z.string(),
  site: z.string(),
  direction: z.enum(['forward', 'failback']),
  at: z.string(),
  epoch: z.number().int().nonnegative().optional(),
});

/**
 * What pre-flight reads about locks: who holds the plan and each VM, and which VMs another
 * execution has failed over. Reads only; `createLockStore` implements it on Redis.
 */
export interface LockReader {
  readPlanLock(plan: string): Promise<LockHolder | undefined>;
  readLocks(vms: readonly string[]): Promise<Map<string, LockHolder>>;
  readFailedOver(vms: readonly string[]): Promise<Map<string, FailedOverRecord>>;
  /** What the engine last saw of these VMs at `site` (sightings.ts); optional for readers without it. */
  readSightings?(site: string, vms: readonly string[]): Promise<Map<string, PrimarySighting>>;
}
