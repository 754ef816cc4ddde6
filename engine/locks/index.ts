/**
 * Locks for executions: one execution per plan and one operation per VM at a time, taken all at
 * once, plus the durable "failed over by plan P, execution E" record. Redis-backed; see keys.ts
 * for the key layout (one hash tag, Redis Cluster friendly).
 */
export { clearFailedOver, markFailedOver, readFailedOver } from './failed-over.ts';
export { DEFAULT_LOCK_PREFIX, failedOverKey, planLockKey, sightingsKey, vmLockKey } from './keys.ts';
export { type AllLocks, readAllLocks } from './list.ts';
export {
  type AcquireLocksRequest,
  acquireLocks,
  forceRelease,
  persistLocks,
  type ReleaseLocksRequest,
  readLocks,
  readPlanLock,
  releaseLocks,
} from './locks.ts';
export { type SettleRequest, type SettleResult, settleExecutionLocks } from './settle.ts';
export { createSightingStore, type SightingStore } from './sightings.ts';
export { createLockReader } from './store.ts';
export type { AcquireResult, FailedOverRecord, LockConflict, LockHolder, LockReader } from './types.ts';
export { type LocksQuery, type LocksView, locksView, releaseHeldLocks } from './view.ts';
