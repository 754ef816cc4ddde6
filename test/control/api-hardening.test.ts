/**
 * Regression tests of the security review of the operators' API: bad input is a 400, and an
 * internal error's text (Redis's own) never reaches a client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/common/index.ts';
import {
  agentHubOf,
  buildControlApp,
  type ControlApp,
  type ControlContext,
  controlRoutes,
  createControlMetrics,
} from '../../engine/control/index.ts';
import { executionKeys } from '../../engine/executor/index.ts';
import { generatePlan } from '../../engine/plan/index.ts';
import { authed } from '../support/auth.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';

const RUN = 'run-1';
const HUGE = '99999999999999999999999';

describe('the operators API, against bad input', () => {
  let app: ControlApp;
  const inject = authed(
    () => app,
    () => ctx,
  );
  const redis = testRedisClient();
  const ctx: ControlContext = {
    redis,
    redisUrl: testRedisUrl(),
    prefix: uniquePrefix('api-harden'),
    log: createLogger('test', { level: 'silent' }),
    metrics: createControlMetrics(),
    readiness: {},
  };

  beforeAll(async () => {
    app = await buildControlApp(ctx, { routes: controlRoutes });
    const keys = executionKeys(ctx.prefix, RUN);
    await redis.hset(keys.meta, {
      id: RUN,
      type: 'test',
      direction: 'forward',
      planName: 'p',
      hash: 'h',
      by: 'alice',
      reason: 'r',
      epoch: '1',
      createdAt: new Date(0).toISOString(),
      status: 'completed',
      total: '0',
    });
    // Not a stream: reading the log fails inside Redis (WRONGTYPE), an internal error.
    await redis.set(keys.events, 'not a stream');
  });
  afterAll(async () => {
    await agentHubOf(ctx).close(1000);
    await app.close();
    redis.disconnect();
  });

  describe('a stream id whose parts are beyond a safe integer', () => {
    it.each([
      ['the JSON page', `/api/v1/executions/${RUN}/events?after=${HUGE}-0`, 'application/json'],
      ['the event stream', `/api/v1/executions/${RUN}/events?after=1-${HUGE}`, 'text/event-stream'],
      [
        'the lifecycle follower',
        `/api/v1/executions/${RUN}/lifecycle/events?after=${HUGE}`,
        'application/json',
      ],
    ])('is refused with 400 by %s', async (_what, url, accept) => {
      const reply = await inject({ method: 'GET', url, headers: { accept } });
      expect(reply.statusCode, reply.body).toBe(400);
    });

    it('is refused with 400 as a Last-Event-ID', async () => {
      const reply = await inject({
        method: 'GET',
        url: `/api/v1/executions/${RUN}/events`,
        headers: { 'last-event-id': `${HUGE}-0` },
      });
      expect(reply.statusCode, reply.body).toBe(400);
    });
  });

  it("says an internal error in the event stream without Redis's text, naming the request", async () => {
    const reply = await inject({ method: 'GET', url: `/api/v1/executions/${RUN}/events?follow=false` });
    expect(reply.statusCode).toBe(200);
    const error = reply.body.split('\n\n').find((m) => m.startsWith('event: error'));
    expect(error, reply.body).toBeDefined();
    expect(error).not.toMatch(/WRONGTYPE/i);
    expect(error).toMatch(/"code":"INTERNAL".*internal error \(request [^)]+\)/);
  });

  describe('an unbounded field', () => {
    const many = Array.from({ length: 50_001 }, (_, i) => `vm-${i}`);
    const plan = { name: 'p', hash: 'a'.repeat(64) };
    it.each([
      ['selection.vms', '/api/v1/executions:preflight', { type: 'test', plan, selection: { vms: many } }],
      [
        'selection.group',
        '/api/v1/executions:preflight',
        { type: 'test', plan, selection: { group: 'g'.repeat(201) } },
      ],
      ['accept', '/api/v1/executions:preflight', { type: 'test', plan, accept: Array(1001).fill('X') }],
      ['approvals action', `/api/v1/executions/${RUN}/approvals`, { action: 'a'.repeat(401) }],
      ['locks release vms', '/api/v1/locks/release', { vms: many }],
      [
        'discardDiverged.vms',
        `/api/v1/executions/${RUN}/reprotect`,
        { discardDiverged: { vms: many, reason: 'r' } },
      ],
    ])('is refused with 400 when %s is over its cap', async (field, url, payload) => {
      const reply = await inject({ method: 'POST', url, payload });
      expect(reply.statusCode, reply.body).toBe(400);
      expect(reply.body).toContain(field.split(' ')[0]?.split('.').at(-1));
    });

    it('a plan text over 8 MiB is refused with 400 naming the cap', async () => {
      const text = `# ${'x'.repeat(8 * 1024 * 1024)}\n`;
      const reply = await inject({ method: 'POST', url: '/api/v1/plans', payload: { text } });
      expect(reply.statusCode, reply.body.slice(0, 300)).toBe(400);
      expect(reply.body).toContain('8 MiB');
    });

    it('a 10,000-VM plan still uploads', { timeout: 120_000 }, async () => {
      const text = generatePlan({ vms: 10_000, depth: 10, seed: 7 });
      const reply = await inject({ method: 'POST', url: '/api/v1/plans', payload: { text } });
      expect(reply.statusCode, reply.body.slice(0, 300)).toBe(201);
    });
  });
});
