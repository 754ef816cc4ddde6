/**
 * SSE followers of executions' event logs share one Redis connection per control plane.
 * Regression: each follower opened a connection of its own (XREAD BLOCK needs one), so 100
 * followers of a run held 100 Redis connections.
 */

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse } from '../../engine/client/index.ts';
import { createLogger } from '../../engine/common/index.ts';
import type { EngineEvent } from '../../engine/contract/index.ts';
import {
  agentHubOf,
  buildControlApp,
  type ControlApp,
  type ControlContext,
  controlRoutes,
  createControlMetrics,
} from '../../engine/control/index.ts';
import { appendEvents, executionKeys } from '../../engine/executor/index.ts';
import type { PrivateRedis } from '../../engine/redis/index.ts';
import { adminToken, bearer } from '../support/auth.ts';
import { privateRedisForFaults, uniquePrefix } from '../support/redis.ts';

const FOLLOWERS = 100;
const AT = '2026-01-01T00:00:00.000Z';

const started = (execution: string, n: number): EngineEvent =>
  ({
    v: 1,
    at: AT,
    type: 'step-started',
    execution,
    step: `vm-${n}/boot`,
    site: 'dc-west',
    attempt: 1,
  }) as EngineEvent;
const finished = (execution: string): EngineEvent =>
  ({ v: 1, at: AT, type: 'execution-finished', execution, status: 'completed' }) as EngineEvent;

describe('followers of the event stream', { timeout: 60_000 }, () => {
  let token: string;
  // A Redis of this file's own: CLIENT LIST counts this control plane's connections alone.
  let server: PrivateRedis;
  let redis: Redis;
  let ctx: ControlContext;
  let app: ControlApp;
  let url = '';
  const connections = async (): Promise<number> =>
    String(await redis.client('LIST'))
      .split('\n')
      .filter((line) => line.trim() !== '').length;

  const execution = async (id: string): Promise<void> => {
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
    await appendEvents(redis, ctx.prefix, [started(id, 0)]);
  };

  /** A follower over HTTP: the ids it got, resolving once the stream ended with `end`. */
  const follow = (id: string, lastEventId?: string) => {
    const ids: string[] = [];
    let got: () => void = () => {};
    const first = new Promise<void>((resolve) => {
      got = resolve;
    });
    const done = (async () => {
      const response = await fetch(`${url}/api/v1/executions/${id}/events`, {
        headers: {
          accept: 'text/event-stream',
          ...bearer(token),
          ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
        },
      });
      for await (const message of readSse(response.body as ReadableStream<Uint8Array>)) {
        if (message.event === 'end') return ids;
        if (message.id !== undefined) {
          ids.push(message.id);
          got();
        }
      }
      throw new Error(`stream of ${id} closed without end after ${ids.join(',')}`);
    })();
    return { ids, first, done };
  };

  beforeAll(async () => {
    server = await privateRedisForFaults();
    redis = new Redis(server.url, { maxRetriesPerRequest: null });
    ctx = {
      redis,
      redisUrl: server.url,
      prefix: uniquePrefix('evfollow'),
      log: createLogger('test', { level: 'silent' }),
      metrics: createControlMetrics(),
      readiness: {},
    };
    app = await buildControlApp(ctx, { routes: controlRoutes });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    token = await adminToken(ctx);
  });
  afterAll(async () => {
    await agentHubOf(ctx).close(1000);
    await app.close();
    redis.disconnect();
    await server.stop();
  });

  it(`hold a bounded number of Redis connections (${FOLLOWERS} followers of two runs), and each gets every event once, in order`, async () => {
    await execution('run-a');
    await execution('run-b');
    const before = await connections();
    const followers = Array.from({ length: FOLLOWERS }, (_, i) => follow(i % 2 === 0 ? 'run-a' : 'run-b'));
    await Promise.all(followers.map((f) => f.first));
    // CLIENT LIST while all of them wait for more: one reader, not one a follower.
    const during = await connections();
    expect(during - before).toBe(1);

    for (let n = 1; n <= 5; n++)
      await appendEvents(redis, ctx.prefix, [started('run-a', n), started('run-b', n)]);
    // One joining late, from its second event: nothing between its backlog and the shared reader lost.
    const all = await redis.xrange(executionKeys(ctx.prefix, 'run-a').events, '-', '+');
    const late = follow('run-a', all[1]?.[0]);
    await late.first;
    await appendEvents(redis, ctx.prefix, [started('run-a', 6), finished('run-a'), finished('run-b')]);

    const runA = (await redis.xrange(executionKeys(ctx.prefix, 'run-a').events, '-', '+')).map(([id]) => id);
    const runB = (await redis.xrange(executionKeys(ctx.prefix, 'run-b').events, '-', '+')).map(([id]) => id);
    const got = await Promise.all(followers.map((f) => f.done));
    for (const [i, ids] of got.entries()) expect(ids).toEqual(i % 2 === 0 ? runA : runB);
    expect(await late.done).toEqual(runA.slice(2));
    expect(await connections()).toBeLessThanOrEqual(during);
  });
});
