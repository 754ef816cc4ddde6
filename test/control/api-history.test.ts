import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/common/index.ts';
import { BUCKET_MS, createHistoryStore, SERIES_BUCKETS } from '../../engine/control/history/index.ts';
import {
  buildControlApp,
  type ControlApp,
  type ControlContext,
  controlRoutes,
  createControlMetrics,
} from '../../engine/control/index.ts';
import { adminToken, authed, bearer } from '../support/auth.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';

describe('GET /api/v1/history', () => {
  let app: ControlApp;
  const inject = authed(
    () => app,
    () => ({ redis, prefix }),
  );
  const redis = testRedisClient();
  const prefix = uniquePrefix('hist-api');
  const history = createHistoryStore(redis, { prefix });
  const base = (): ControlContext => ({
    redis,
    redisUrl: testRedisUrl(),
    prefix,
    log: createLogger('test', { level: 'silent' }),
    metrics: createControlMetrics(),
    readiness: {},
  });

  beforeAll(async () => {
    app = await buildControlApp({ ...base(), history }, { routes: controlRoutes });
    const now = Date.now();
    await history.record([
      { vm: 'sql-01', site: 'dc-east', at: now - BUCKET_MS, rpoSec: 40, health: 'Normal' },
      { vm: 'sql-01', site: 'dc-east', at: now, rpoSec: 400, health: 'Warning' },
    ]);
  });
  afterAll(async () => {
    await app.close();
    redis.disconnect();
  });

  it("returns each VM's 288 buckets, oldest first, with gaps as null", async () => {
    const reply = await inject('/api/v1/history?vm=sql-01&vm=web-01');
    expect(reply.statusCode).toBe(200);
    const [sql, web] = reply.json().vms;
    expect(sql.site).toBe('dc-east');
    expect(sql.rpoSec).toHaveLength(SERIES_BUCKETS);
    expect(sql.rpoSec.slice(-2)).toEqual([40, 400]);
    expect(sql.health.slice(-2)).toEqual(['Normal', 'Warning']);
    expect(sql.health[0]).toBeNull();
    expect(web).toMatchObject({ vm: 'web-01', site: null });
    expect(web.health.every((h: unknown) => h === null)).toBe(true);
  });

  it('refuses a page larger than the cap, naming the field', async () => {
    const query = Array.from({ length: 201 }, (_, i) => `vm=v${i}`).join('&');
    const reply = await inject(`/api/v1/history?${query}`);
    expect(reply.statusCode).toBe(400);
    expect(reply.json().issues[0].path).toMatch(/^querystring/);
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await inject('/openapi.json')).json();
    expect(doc.paths['/api/v1/history'].get.summary).toMatch(/5-minute buckets/);
  });

  it('answers 503 when the control plane keeps no history', async () => {
    const bare = await buildControlApp(base(), { routes: controlRoutes });
    const reply = await bare.inject({
      url: '/api/v1/history?vm=sql-01',
      headers: bearer(await adminToken({ redis, prefix })),
    });
    await bare.close();
    expect(reply.statusCode).toBe(503);
    expect(reply.json().code).toBe('NO_HISTORY');
  });
});
