import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { type PrivateRedis, type PrivateRedisOptions, startPrivateRedis } from '../../engine/redis/index.ts';

/** The run's shared Redis (REDIS_URL or the private server started by the global setup). */
export function testRedisUrl(): string {
  return inject('redisUrl');
}

/** A key prefix no other test (or test run) uses. */
export function uniquePrefix(label = 't'): string {
  return `${label}-${randomBytes(5).toString('hex')}`;
}

/** A client on the run's Redis; close it with `quit()` in afterAll/afterEach. */
export function testRedisClient(): Redis {
  return new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
}

/**
 * A Redis only this test uses, for fault tests that kill or restart it. Always a private
 * redis-server, even when REDIS_URL is set: a fault test must never restart someone's shared server.
 */
export async function privateRedisForFaults(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  return await startPrivateRedis(options);
}
