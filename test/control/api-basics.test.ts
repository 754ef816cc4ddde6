import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger, InputError } from '../../engine/common/index.ts';
import {
  buildControlApp,
  type ControlApp,
  type ControlContext,
  createControlMetrics,
} from '../../engine/control/index.ts';
import { authed } from '../support/auth.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';

describe('the control plane API', () => {
  let app: ControlApp;
  const inject = authed(
    () => app,
    () => ctx,
  );
  const redis = testRedisClient();
  const ctx: ControlContext = {
    redis,
    redisUrl: testRedisUrl(),
    prefix: uniquePrefix('api'),
    log: createLogger('test', { level: 'silent' }),
    metrics: createControlMetrics(),
    readiness: {},
  };

  beforeAll(async () => {
    app = await buildControlApp(ctx, {
      bodyLimit: 1024,
      routes: [
        (api) => {
          api.post(
            '/echo',
            {
              config: { permission: 'read' },
              schema: {
                body: z.strictObject({ name: z.string().max(20) }),
                response: { 200: z.object({ name: z.string() }) },
              },
            },
            async (request) => ({ name: request.body.name }),
          );
          api.get('/unknown-plan', { config: { permission: 'read' } }, async () => {
            throw new InputError('UNKNOWN_PLAN', "no plan 'erp' in the vault; `drctl plan list` shows them");
          });
        },
      ],
    });
  });
  afterAll(async () => {
    await app.close();
    redis.disconnect();
  });

  it('answers the probes', async () => {
    expect((await inject('/healthz')).json()).toMatchObject({ ok: true });
    expect((await inject('/readyz')).json()).toEqual({ ready: true, checks: { redis: true } });
  });

  it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
    const doc = (await inject('/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/api/v1/echo'].post.requestBody.content['application/json'].schema).toMatchObject({
      properties: { name: { type: 'string', maxLength: 20 } },
      additionalProperties: false,
    });
  });

  describe('when a request is refused', () => {
    it('says which field is wrong, as problem+json, and counts it', async () => {
      const reply = await inject({ method: 'POST', url: '/api/v1/echo', payload: { name: 7, extra: 1 } });
      expect(reply.statusCode).toBe(400);
      expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = reply.json();
      expect(problem).toMatchObject({
        code: 'BAD_REQUEST',
        status: 400,
        type: 'urn:drorch:error:BAD_REQUEST',
      });
      expect(problem.issues.map((issue: { path: string }) => issue.path)).toContain('body.name');
      const metrics = (await inject('/metrics')).body;
      expect(metrics).toMatch(
        /drorch_requests_refused_total\{route="\/api\/v1\/echo",code="BAD_REQUEST"\} 1/,
      );
    });

    it('refuses an oversized body with 413', async () => {
      const reply = await inject({
        method: 'POST',
        url: '/api/v1/echo',
        payload: { name: 'x'.repeat(2000) },
      });
      expect(reply.statusCode).toBe(413);
      expect(reply.json()).toMatchObject({ code: 'BODY_TOO_LARGE' });
    });

    it("maps the engine's error codes to a status and keeps the code the CLI prints", async () => {
      const reply = await inject('/api/v1/unknown-plan');
      expect(reply.statusCode).toBe(404);
      expect(reply.json()).toMatchObject({
        code: 'UNKNOWN_PLAN',
        detail: expect.stringContaining('drctl plan list'),
      });
    });

    it('answers an unknown route with a 404 problem', async () => {
      const reply = await inject('/api/v1/nothing-here');
      expect(reply.statusCode).toBe(404);
      expect(reply.json()).toMatchObject({ code: 'NOT_FOUND' });
    });
  });
});
