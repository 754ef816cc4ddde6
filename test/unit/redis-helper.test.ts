import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { privateRedisForFaults, testRedisClient, uniquePrefix } from '../support/redis.ts';

describe('the test Redis helper', () => {
  const client = testRedisClient();
  afterAll(async () => {
    await client.quit();
  });

  it('gives the run a Redis >= 7', async () => {
    const info = await client.info('server');
    const major = Number(/redis_version:(\d+)/.exec(info)?.[1]);
    expect(major).toBeGreaterThanOrEqual(7);
  });

  it('hands out prefixes that do not collide', () => {
    const prefixes = new Set(Array.from({ length: 1000 }, () => uniquePrefix()));
    expect(prefixes.size).toBe(1000);
  });

  describe('when a fault test restarts its private Redis with AOF', () => {
    it('keeps the data written before the restart', async () => {
      const server = await privateRedisForFaults({ appendOnly: true });
      try {
        const c = new Redis(server.url, { maxRetriesPerRequest: null });
        c.on('error', () => {});
        await c.set('k', 'v');
        await c.call('BGREWRITEAOF');
        await new Promise((r) => setTimeout(r, 1200));
        await server.restart(true);
        expect(await c.get('k')).toBe('v');
        c.disconnect();
      } finally {
        await server.stop();
      }
    });
  });
});
