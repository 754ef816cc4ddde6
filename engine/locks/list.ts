import type { Redis } from 'ioredis';
import { readFailedOver } from './failed-over.ts';
import { failedOverKey, planLockKey, vmLockKey } from './keys.ts';
import { readLocks, readPlanLock } from './locks.ts';
import type { FailedOverRecord, LockHolder } from './types.ts';

/** Every lock held and every failed-over record under a prefix (`drctl locks show` with no flags). */
export interface AllLocks {
  plans: Map<string, LockHolder>;
  vms: Map<string, LockHolder>;
  failedOver: Map<string, FailedOverRecord>;
}

/** A key prefix as a literal in a Redis glob pattern. */
function globLiteral(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** Names of the keys `<prefix>:{dr-locks}:<kind>:<name>`, by SCAN (never KEYS: it blocks Redis). */
async function lockNames(redis: Redis, prefix: string, kind: 'plan' | 'vm'): Promise<string[]> {
  const head = kind === 'plan' ? planLockKey(prefix, '') : vmLockKey(prefix, '');
  const names: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${globLiteral(head)}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) names.push(key.slice(head.length));
  } while (cursor !== '0');
  return [...new Set(names)].sort();
}

export async function readAllLocks(redis: Redis, prefix: string): Promise<AllLocks> {
  const [planNames, vmNames, failedOverNames] = await Promise.all([
    lockNames(redis, prefix, 'plan'),
    lockNames(redis, prefix, 'vm'),
    redis.hkeys(failedOverKey(prefix)),
  ]);
  const plans = new Map<string, LockHolder>();
  for (const name of planNames) {
    const holder = await readPlanLock(redis, prefix, name);
    if (holder !== undefined) plans.set(name, holder);
  }
  return {
    plans,
    vms: await readLocks(redis, prefix, vmNames),
    failedOver: await readFailedOver(redis, prefix, failedOverNames.sort()),
  };
}
