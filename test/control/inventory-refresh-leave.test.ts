/**
 * Regression test of the security review: the refresh long poll read Redis every 100 ms for its
 * whole wait after the client had gone. Watched with MONITOR on this test's own key prefix.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/common/index.ts';
import {
  buildControlApp,
  type ControlApp,
  type ControlContext,
  createControlMetrics,
} from '../../engine/control/index.ts';
import { inventoryRoutes } from '../../engine/control/inventory/index.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the inventory refresh long poll', () => {
  let app: ControlApp;
  let url = '';
  const redis = testRedisClient();
  const monitorClient = testRedisClient();
  const ctx: ControlContext = {
    redis,
    redisUrl: testRedisUrl(),
    prefix: uniquePrefix('refresh-poll'),
    log: createLogger('test', { level: 'silent' }),
    metrics: createControlMetrics(),
    readiness: {},
  };
  beforeAll(async () => {
    app = await buildControlApp(ctx, { routes: [inventoryRoutes()] });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app.close();
    redis.disconnect();
    monitorClient.disconnect();
  });

  it('stops reading Redis once its client has gone', { timeout: 30_000 }, async () => {
    const monitor = await monitorClient.monitor();
    let reads = 0;
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.some((a) => a.includes(ctx.prefix))) reads += 1;
    });
    const client = new AbortController();
    const poll = fetch(`${url}/api/v1/agents/dc-east/inventory/refresh?waitMs=20000`, {
      signal: client.signal,
    }).catch(() => undefined);
    // Wait until the poll is reading, then leave.
    while (reads === 0) await sleep(20);
    client.abort();
    await poll;
    await sleep(500); // let the route see the close
    const before = reads;
    await sleep(1000); // ten poll periods
    expect(reads - before).toBe(0);
    monitor.disconnect();
  });
});
