/**
 * The control plane's close with a request under way, over real HTTP (keep-alive, as every
 * client of the API and every agent connects). Regression: a connection whose response went out
 * after the server stopped listening stayed open, and the close waited keepAliveTimeout (65 s)
 * for it: `drctl demo` stopped during its first pre-flight took a minute to exit.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/common/index.ts';
import { buildControlApp, type ControlContext, createControlMetrics } from '../../engine/control/index.ts';
import { adminToken, bearer } from '../support/auth.ts';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';

const redis = testRedisClient();
afterAll(() => {
  redis.disconnect();
});

describe('when the control plane closes while a request is under way', () => {
  it('answers it with Connection: close, and the close completes', { timeout: 30_000 }, async () => {
    const ctx: ControlContext = {
      redis,
      redisUrl: testRedisUrl(),
      prefix: uniquePrefix('close'),
      log: createLogger('test', { level: 'silent' }),
      metrics: createControlMetrics(),
      readiness: {},
    };
    let release: () => void = () => {};
    let arrived: () => void = () => {};
    const underWay = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const app = await buildControlApp(ctx, {
      routes: [
        (api) => {
          api.get('/slow', { config: { permission: 'read' } }, async () => {
            arrived();
            await new Promise<void>((resolve) => {
              release = resolve;
            });
            return { ok: true };
          });
        },
      ],
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const response = fetch(`${url}/api/v1/slow`, { headers: bearer(await adminToken(ctx)) });
    await underWay;

    const closed = app.close();
    // Answered once the server stopped listening, as a pre-flight under way at a stop is.
    while (app.server.listening) await new Promise((resolve) => setImmediate(resolve));
    release();
    const answer = await response;
    await closed; // without the fix: 65 s, past this test's timeout

    expect(answer.status).toBe(200);
    expect(answer.headers.get('connection')).toBe('close');
    expect(await answer.json()).toEqual({ ok: true });
  });
});
