/** The probes, the metrics and the OpenAPI document: outside `/api/v1`, for machines. */
import { z } from 'zod';
import { CONTROL_VERSION, type ControlApp, type ControlContext } from '../context.ts';

const HealthSchema = z.object({ ok: z.literal(true), version: z.string() });
const ReadySchema = z.object({ ready: z.boolean(), checks: z.record(z.string(), z.boolean()) });

export function registerSystemRoutes(app: ControlApp, ctx: ControlContext): void {
  // Alive: the process answers. Says nothing of Redis (that is /readyz).
  app.get('/healthz', { schema: { hide: true, response: { 200: HealthSchema } } }, async () => ({
    ok: true as const,
    version: CONTROL_VERSION,
  }));
  // Ready to serve: Redis answers and every part that registered a check says so.
  app.get(
    '/readyz',
    { schema: { hide: true, response: { 200: ReadySchema, 503: ReadySchema } } },
    async (_request, reply) => {
      const checks: Record<string, boolean> = {};
      checks.redis = await ctx.redis.ping().then(
        (pong) => pong === 'PONG',
        () => false,
      );
      for (const [name, check] of Object.entries(ctx.readiness)) {
        checks[name] = await check().catch(() => false);
      }
      const ready = Object.values(checks).every(Boolean);
      return reply.code(ready ? 200 : 503).send({ ready, checks });
    },
  );
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const body = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(body);
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
