/**
 * Whether the vault's Redis keeps a write it acknowledged across a crash, and the wait that makes an
 * automatic submission durable before its first step (issue 13: epochs never go backwards, even
 * after Redis loses its last second of writes under `appendfsync everysec`).
 *
 * - Redis ≥ 7.2 with AOF on: `WAITAOF 1 0 <timeout>` after the submission: it returns once the local
 *   AOF holds every write this connection made (numlocal ≥ 1).
 * - Redis 7.0/7.1 (no WAITAOF): only `appendonly yes` with `appendfsync always` is durable (Redis
 *   fsyncs before it answers), so nothing is to be waited for; with any other fsync policy there is
 *   no way to know a write reached the disk, and arming is refused (a located error naming the
 *   setting) rather than running on a promise Redis does not keep.
 * - No AOF: refused the same way. `CONFIG GET` refused (a managed Redis): refused, naming it.
 */
import type { Redis } from 'ioredis';
import { DrError } from '../../common/index.ts';

export type Durability =
  | { ok: true; how: 'waitaof' | 'appendfsync-always'; version: string }
  | { ok: false; version: string; reason: string };

const WAITAOF_SINCE = [7, 2] as const;

function atLeast(version: string, [major, minor]: readonly [number, number]): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/** What this Redis can promise (read at arming and again before each automatic submission). */
export async function durabilityOf(redis: Redis): Promise<Durability> {
  const info = await redis.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '0';
  let appendonly: string | undefined;
  let fsync: string | undefined;
  try {
    const [, ao] = (await redis.config('GET', 'appendonly')) as string[];
    const [, fs] = (await redis.config('GET', 'appendfsync')) as string[];
    appendonly = ao;
    fsync = fs;
  } catch (error) {
    return {
      ok: false,
      version,
      reason: `cannot read Redis's persistence settings (CONFIG GET: ${(error as Error).message}); automatic failover needs appendonly yes and, before Redis 7.2, appendfsync always`,
    };
  }
  if (appendonly !== 'yes')
    return {
      ok: false,
      version,
      reason: `Redis ${version} runs without AOF (appendonly ${appendonly ?? '?'}): a crash could lose the automatic submission and its epoch; set appendonly yes${atLeast(version, WAITAOF_SINCE) ? '' : ' and appendfsync always'}`,
    };
  if (atLeast(version, WAITAOF_SINCE)) return { ok: true, how: 'waitaof', version };
  if (fsync === 'always') return { ok: true, how: 'appendfsync-always', version };
  return {
    ok: false,
    version,
    reason: `Redis ${version} has no WAITAOF (7.2+) and fsyncs its AOF with appendfsync ${fsync ?? '?'}: an acknowledged write can be lost in a crash; set appendfsync always or upgrade Redis to 7.2`,
  };
}

/** Refuse with the reason when the Redis cannot keep an automatic submission. */
export async function assertDurable(redis: Redis): Promise<Durability & { ok: true }> {
  const durability = await durabilityOf(redis);
  if (durability.ok) return durability;
  throw new DrError('REDIS_NOT_DURABLE', durability.reason, {
    exitCode: 2,
    details: { status: 409, redisVersion: durability.version },
  });
}

/**
 * The wait before an automatic submission becomes runnable (7.2+): the submission was written on
 * another connection (the execution client's), and WAITAOF waits for this connection's own writes,
 * so it writes `mark` first: the AOF is one sequence, so once this later write is on disk, so is
 * the submission Redis acknowledged before it. Nothing under appendfsync always (already on disk
 * when Redis answered).
 */
export function durableWait(
  redis: Redis,
  durability: Durability & { ok: true },
  mark: { key: string; value: string },
  timeoutMs = 2000,
) {
  return async (): Promise<void> => {
    if (durability.how !== 'waitaof') return;
    await redis.set(mark.key, mark.value);
    const [local] = (await redis.call('WAITAOF', '1', '0', String(timeoutMs))) as number[];
    if ((local ?? 0) < 1)
      throw new DrError(
        'REDIS_NOT_DURABLE',
        `WAITAOF: the automatic submission did not reach Redis's AOF within ${timeoutMs} ms; it was not started`,
        { retryable: true },
      );
  };
}
