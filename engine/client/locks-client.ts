/**
 * `drctl locks`: who holds what, and the forced release, read from Redis in process or asked of
 * the control plane (`--server` / DR_SERVER).
 */
import { Redis } from 'ioredis';
import {
  type LockConflict,
  type LocksQuery,
  type LocksView,
  locksView,
  releaseHeldLocks,
} from '../locks/index.ts';
import { type ApiRequester, createApiRequester } from './http-request.ts';

export interface LocksClient {
  show(query: LocksQuery): Promise<LocksView>;
  release(query: LocksQuery): Promise<{ released: LockConflict[] }>;
  close(): Promise<void>;
}

/** In process: one connection to the engine's Redis (checked by the caller). */
export async function createRedisLocksClient(redisUrl: string, prefix: string): Promise<LocksClient> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {});
  await redis.connect();
  return {
    show: (query) => locksView(redis, prefix, query),
    release: (query) => releaseHeldLocks(redis, prefix, query),
    close: async () => redis.disconnect(),
  };
}

export function createHttpLocksClient(server: string, request?: ApiRequester): LocksClient {
  const call = request ?? createApiRequester(server);
  return {
    show: (query) =>
      call<LocksView>('GET', '/api/v1/locks', {
        query: {
          plan: query.plan,
          ...(query.vms === undefined || query.vms.length === 0 ? {} : { vms: query.vms.join(',') }),
        },
      }),
    release: (query) =>
      call<{ released: LockConflict[] }>('POST', '/api/v1/locks/release', {
        body: {
          ...(query.plan === undefined ? {} : { plan: query.plan }),
          ...(query.vms === undefined ? {} : { vms: [...query.vms] }),
        },
      }),
    close: async () => {},
  };
}
