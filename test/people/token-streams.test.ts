/**
 * A token's open event streams end with it (issue 12): revoked (through the API or `drctl token
 * revoke` on Redis) → the stream's connection closes within 1 s; expired → it closes at expiry, not
 * at the next request that would present it.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/common/index.ts';
import type { EngineEvent } from '../../engine/contract/index.ts';
import { revokeToken } from '../../engine/control/auth/index.ts';
import {
  agentHubOf,
  buildControlApp,
  type ControlApp,
  type ControlContext,
  controlRoutes,
  createControlMetrics,
} from '../../engine/control/index.ts';
import { appendEvents, executionKeys } from '../../engine/executor/index.ts';
import { bearer, tokenFor } from '../support/auth.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

const AT = '2026-01-01T00:00:00.000Z';
let redis: Redis;
let ctx: ControlContext;
let app: ControlApp;
let url = '';

beforeAll(async () => {
  redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
  ctx = {
    redis,
    redisUrl: testRedisUrl(),
    prefix: uniquePrefix('tokstream'),
    log: createLogger('test', { level: 'silent' }),
    metrics: createControlMetrics(),
    readiness: {},
  };
  app = await buildControlApp(ctx, { routes: controlRoutes });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  const id = 'run-stream';
  await redis.hset(executionKeys(ctx.prefix, id).meta, {
    id,
    type: 'test',
    direction: 'forward',
    planName: 'p',
    hash: 'h',
    by: 't',
    reason: 'r',
    epoch: '1',
    createdAt: AT,
    status: 'running',
    total: '3',
  });
  await appendEvents(redis, ctx.prefix, [
    {
      v: 1,
      at: AT,
      type: 'step-started',
      execution: id,
      step: 'vm/boot',
      site: 'dc-west',
      attempt: 1,
    } as EngineEvent,
  ]);
});
afterAll(async () => {
  await agentHubOf(ctx).close(1000);
  await app.close();
  redis.disconnect();
});

/** Follow the run's events; resolves with when the connection ended (ms since `t0`) and how. */
async function follow(token: string): Promise<{ opened: Promise<void>; ended: Promise<number> }> {
  const response = await fetch(`${url}/api/v1/executions/run-stream/events?follow=true`, {
    headers: { accept: 'text/event-stream', ...bearer(token) },
  });
  expect(response.status).toBe(200);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  let opened: () => void = () => {};
  const first = new Promise<void>((resolve) => {
    opened = resolve;
  });
  const ended = (async () => {
    try {
      for (;;) {
        const { done } = await reader.read();
        opened();
        if (done) return Date.now();
      }
    } catch {
      return Date.now(); // the connection cut
    }
  })();
  return { opened: first, ended };
}

describe("a token's open event stream", { timeout: 30_000 }, () => {
  it('closes within 1 s of the token being revoked', async () => {
    const token = await tokenFor(ctx, 'viewer', { owner: 'watcher' });
    const stream = await follow(token);
    await stream.opened;
    const id = /^drt_([0-9a-f]{16})_/.exec(token)?.[1] ?? '';
    expect(ctx.tokenStreams?.open(id)).toBe(1);
    const revokedAt = Date.now();
    await revokeToken(redis, ctx.prefix, id, 'test-admin');
    const closedAt = await Promise.race([
      stream.ended,
      new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), 5000)),
    ]);
    expect(closedAt - revokedAt).toBeLessThanOrEqual(1000);
    await expect.poll(() => ctx.tokenStreams?.open(id)).toBe(0);
  });

  it('closes when the token expires, without another request', async () => {
    const token = await tokenFor(ctx, 'viewer', { owner: 'brief', expiresInMs: 1500 });
    const stream = await follow(token);
    await stream.opened;
    const closedAt = await Promise.race([
      stream.ended,
      new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), 6000)),
    ]);
    expect(Number.isFinite(closedAt)).toBe(true);
  });
});
