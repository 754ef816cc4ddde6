/**
 * Key layout. Every key carries the hash tag `{dr-locks}` after the caller's prefix, so all lock
 * keys live in one Redis Cluster slot and one Lua script may touch a plan lock and 10,000 VM locks
 * atomically. (Any hash tag inside the prefix itself comes first and is the same for every key,
 * so the rule holds either way.) The price: on a cluster all locks live on one shard, which is
 * fine for a few hundred thousand small keys.
 */
const TAG = '{dr-locks}';

/**
 * The engine's default key prefix (engine/executor's DEFAULT_PREFIX), repeated here so the
 * executor can import engine/locks without an import cycle.
 */
export const DEFAULT_LOCK_PREFIX = 'dr';

export function planLockKey(prefix: string, plan: string): string {
  return `${prefix}:${TAG}:plan:${plan}`;
}

export function vmLockKey(prefix: string, vm: string): string {
  return `${prefix}:${TAG}:vm:${vm}`;
}

/** One hash: field = VM name, value = FailedOverRecord JSON. */
export function failedOverKey(prefix: string): string {
  return `${prefix}:${TAG}:failed-over`;
}

/**
 * One hash per site: what the engine last saw of the VMs there (sightings.ts). Fields
 * `run:<vm>`, `off:<vm>` and `heartbeat`.
 */
export function sightingsKey(prefix: string, site: string): string {
  return `${prefix}:${TAG}:seen:${site}`;
}
