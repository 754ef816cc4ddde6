/**
 * Regression tests of the security review of the agent routes: what a site agent may not post.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/common/index.ts';
import type { EngineEvent } from '../../engine/contract/index.ts';
import {
  agentHubOf,
  buildControlApp,
  CONTROL_VERSION,
  type ControlApp,
  type ControlContext,
  controlRoutes,
  createControlMetrics,
} from '../../engine/control/index.ts';
import { divergenceLine, divergencesOf, executionKeys } from '../../engine/executor/index.ts';
import { markFailedOver } from '../../engine/locks/index.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';

const EAST = 'dc-east';
const WEST = 'dc-west';
const NORTH = 'dc-north';
const AT = '2026-01-01T00:00:00.000Z';

function diverged(site: string, more: Record<string, unknown> = {}) {
  return {
    v: 1,
    at: AT,
    type: 'diverged',
    execution: 'exec-1',
    vm: 'app-09',
    site,
    runsAt: WEST,
    ranFrom: AT,
    ranUntil: '2026-01-01T00:01:00.000Z',
    ranMs: 60_000,
    fenced: true,
    discard: {},
    detectedBy: 'fence-sweep',
    ...more,
  };
}

describe('the agent routes, against forged messages', () => {
  let app: ControlApp;
  const redis = testRedisClient();
  const ctx: ControlContext = {
    redis,
    redisUrl: testRedisUrl(),
    prefix: uniquePrefix('agent-harden'),
    log: createLogger('test', { level: 'silent' }),
    metrics: createControlMetrics(),
    readiness: {},
  };
  const sessions: Record<string, string> = {};
  const post = (url: string, payload: unknown) =>
    app.inject({ method: 'POST', url, payload: payload as object });
  const divergences = (site: string, events: unknown[]) =>
    post(`/api/v1/agents/${site}/divergences`, { session: sessions[site], events });

  beforeAll(async () => {
    app = await buildControlApp(ctx, { routes: controlRoutes });
    for (const site of [EAST, WEST, NORTH]) {
      const reply = await post(`/api/v1/agents/${site}/hello`, {
        site,
        agentId: `agent-${site}`,
        version: CONTROL_VERSION,
        scriptCatalog: { scripts: {} },
      });
      sessions[site] = reply.json().session;
    }
    // exec-1 failed app-09 over from east to west (its plan's two sites).
    await redis.set(executionKeys(ctx.prefix, 'exec-1').plan, JSON.stringify({ source: EAST, target: WEST }));
    await markFailedOver(redis, ctx.prefix, ['app-09'], {
      plan: 'p',
      execution: 'exec-1',
      site: WEST,
      direction: 'forward',
      at: AT,
    });
  });
  afterAll(async () => {
    await agentHubOf(ctx).close(1000);
    await app.close();
    redis.disconnect();
  });

  describe('a divergence', () => {
    it('from the site the VM failed over away from is accepted', async () => {
      const reply = await divergences(EAST, [diverged(EAST)]);
      expect(reply.statusCode, reply.body).toBe(200);
    });

    it('from a site with no part in the failover is refused with 422', async () => {
      const reply = await divergences(NORTH, [diverged(NORTH)]);
      expect(reply.statusCode, reply.body).toBe(422);
      expect(reply.json().code).toBe('DIVERGENCE_NOT_OF_SITE');
    });

    it('from the site the VM now runs at is refused with 422', async () => {
      const reply = await divergences(WEST, [diverged(WEST, { runsAt: EAST })]);
      expect(reply.statusCode, reply.body).toBe(422);
    });

    it('naming another site than the failover target as where it runs is refused with 422', async () => {
      const reply = await divergences(EAST, [diverged(EAST, { runsAt: NORTH })]);
      expect(reply.statusCode, reply.body).toBe(422);
    });

    it.each(['ranFrom', 'ranUntil', 'at'])(
      'with a %s that is no ISO time is refused with 400',
      async (field) => {
        const reply = await divergences(EAST, [diverged(EAST, { [field]: 'garbage' })]);
        expect(reply.statusCode, reply.body).toBe(400);
      },
    );
  });

  it('a heartbeat whose hostsSeenAt is no ISO time is refused with 400', async () => {
    const reply = await post(`/api/v1/agents/${EAST}/heartbeat`, {
      session: sessions[EAST],
      running: [],
      hostsSeenAt: 'yesterday',
    });
    expect(reply.statusCode, reply.body).toBe(400);
  });
});

describe('a divergence stored with a time that does not parse', () => {
  const event = (ranFrom: string, ranUntil: string, ranMs: number): EngineEvent =>
    ({ ...diverged(EAST, { ranFrom, ranUntil, ranMs }) }) as EngineEvent;

  it('is said as it was written, not thrown on (status and reprotect read it)', () => {
    const [d] = divergencesOf([
      event('garbage', '2026-01-01T00:01:00.000Z', Number.NaN),
      event('2026-01-01T00:00:30.000Z', '2026-01-01T00:02:00.000Z', 90_000),
    ]);
    expect(d?.episodes).toHaveLength(2);
    expect(() => divergenceLine(d ?? (undefined as never))).not.toThrow();
    expect(divergenceLine(d ?? (undefined as never))).toContain('host time garbage');
  });
});
