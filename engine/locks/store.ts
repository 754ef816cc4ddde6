import type { Redis } from 'ioredis';
import { readFailedOver } from './failed-over.ts';
import { readLocks, readPlanLock } from './locks.ts';
import { createSightingStore } from './sightings.ts';
import type { LockReader } from './types.ts';

/** The Redis-backed LockReader that pre-flight takes: a few reads, one round trip each. */
export function createLockReader(redis: Redis, prefix: string): LockReader {
  const sightings = createSightingStore(redis, prefix);
  return {
    readPlanLock: (plan) => readPlanLock(redis, prefix, plan),
    readLocks: (vms) => readLocks(redis, prefix, vms),
    readFailedOver: (vms) => readFailedOver(redis, prefix, vms),
    readSightings: (site, vms) => sightings.read(site, vms),
  };
}
