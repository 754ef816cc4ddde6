import type { TestProject } from 'vitest/node';
import { acquireRedis } from '../../engine/redis/index.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/**
 * One Redis for the whole test run: REDIS_URL when set, else a private redis-server on a free
 * port, stopped when the run ends. Tests isolate themselves with `uniquePrefix()`.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await acquireRedis();
  project.provide('redisUrl', redis.url);
  return redis.release;
}
