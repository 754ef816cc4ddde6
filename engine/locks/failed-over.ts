import type { Redis } from 'ioredis';
import { failedOverKey } from './keys.ts';
import { CLEAR_FAILED_OVER_SCRIPT } from './scripts.ts';
import { type FailedOverRecord, failedOverRecordSchema } from './types.ts';

/**
 * Records that `record.execution` of `record.plan` failed these VMs over, in one HSET. Written by
 * the executor when a VM's failover step is done; read by pre-flight (ALREADY_FAILED_OVER).
 */
export async function markFailedOver(
  redis: Redis,
  prefix: string,
  vms: readonly string[],
  record: FailedOverRecord,
): Promise<void> {
  if (vms.length === 0) return;
  const value = JSON.stringify(record);
  const fields: string[] = [];
  for (const vm of new Set(vms)) fields.push(vm, value);
  await redis.hset(failedOverKey(prefix), ...fields);
}

/** Records of the VMs that have one, in one HMGET. */
export async function readFailedOver(
  redis: Redis,
  prefix: string,
  vms: readonly string[],
): Promise<Map<string, FailedOverRecord>> {
  const out = new Map<string, FailedOverRecord>();
  const unique = [...new Set(vms)];
  if (unique.length === 0) return out;
  const values = await redis.hmget(failedOverKey(prefix), ...unique);
  values.forEach((raw, i) => {
    const vm = unique[i];
    if (raw === null || vm === undefined) return;
    out.set(vm, parseRecord(raw));
  });
  return out;
}

/**
 * Clears the records once the VMs are home (failback) or protected again (commit + reprotect).
 * Only the records `plan` wrote are cleared, unless `plan` is omitted (operator override).
 * Returns how many were cleared.
 */
export async function clearFailedOver(
  redis: Redis,
  prefix: string,
  vms: readonly string[],
  plan?: string,
): Promise<number> {
  if (vms.length === 0) return 0;
  const reply = await redis.eval(CLEAR_FAILED_OVER_SCRIPT, 1, [
    failedOverKey(prefix),
    plan ?? '',
    ...new Set(vms),
  ]);
  return Number(reply);
}

function parseRecord(raw: string): FailedOverRecord {
  try {
    const parsed = failedOverRecordSchema.safeParse(JSON.parse(raw));
    if (parsed.success) return parsed.data;
  } catch {
    // fall through: an unreadable record still counts as "failed over", and says so
  }
  return {
    plan: 'unknown',
    execution: `unknown (${raw.slice(0, 60)})`,
    site: '?',
    direction: 'forward',
    at: '',
  };
}
