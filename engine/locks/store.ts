import type { Redis } from 'ioredis';
import { readFailedOver } from './failed-over.ts';
import { readLocks, readPlanLock } from './locks.ts';
import type { LockReader } from './types.ts';

/** The Redis-backed LockReader that pre-flight takes: three reads, one round trip each. */
export function createLockReader(redis: Redis, prefix: string): LockReader {
  return {
    readPlanLock: (plan) => readPlanLock(redis, prefix, plan),
    readLocks: (vms) => readLocks(redis, prefix, vms),
    readFailedOver: (vms) => readFailedOver(redis, prefix, vms),
  };
}
