/**
 * `GET /plans/:name/drills` for plans with no drill: a stored plan never run answers an empty
 * history judged against its stored targets; only a plan the vault does not know is a 404.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/common/index.ts';
import {
  buildControlApp,
  type ControlApp,
  controlRoutes,
  createControlMetrics,
} from '../../engine/control/index.ts';
import { drillHistorySchema } from '../../engine/report/index.ts';
import { authed } from '../support/auth.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';

const three = readFileSync('plans/examples/three-tier.yaml', 'utf8');

describe('the drill history of a plan with no drill', () => {
  let app: ControlApp;
  const redis = testRedisClient();
  const prefix = uniquePrefix('drills');
  const inject = authed(
    () => app,
    () => ({ redis, prefix }),
  );
  beforeAll(async () => {
    app = await buildControlApp(
      {
        redis,
        redisUrl: testRedisUrl(),
        prefix,
        log: createLogger('test', { level: 'silent' }),
        metrics: createControlMetrics(),
        readiness: {},
      },
      { routes: controlRoutes },
    );
    const upload = await inject({
      method: 'POST',
      url: '/api/v1/plans',
      payload: { file: 'erp.yaml', text: three },
    });
    expect(upload.statusCode, upload.body).toBe(201);
  });
  afterAll(async () => {
    await app.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('a stored plan never run: 200, no drills, its stored targets', async () => {
    const reply = await inject({ method: 'GET', url: '/api/v1/plans/erp/drills' });
    expect(reply.statusCode, reply.body).toBe(200);
    const history = drillHistorySchema.parse(reply.json());
    expect(history).toMatchObject({ plan: 'erp', drills: [], targets: { rtoMs: 900_000, rpoMs: 300_000 } });
    const html = await inject({ method: 'GET', url: '/api/v1/plans/erp/drills?format=html' });
    expect(html.statusCode).toBe(200);
    expect(html.body).toContain('no drills of this plan');
  });

  it('a plan the vault does not know: 404 PLAN_NOT_FOUND, problem+json', async () => {
    const reply = await inject({ method: 'GET', url: '/api/v1/plans/nope/drills' });
    expect(reply.statusCode).toBe(404);
    expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(reply.json()).toMatchObject({ code: 'PLAN_NOT_FOUND' });
    expect(reply.json().detail).toMatch(/no plan named 'nope'/);
  });
});
