/**
 * Private to the lifecycle commands' HTTP path, until the executions API (GET /executions/:id and
 * its events) is on main: an execution's view and a page of its events, so `drctl commit
 * --server` follows a run as the in-process path does. Hidden from the OpenAPI document; to be
 * dropped for the public routes once they exist.
 */
import { z } from 'zod';
import { createRedisExecutionClient } from '../../client/index.ts';
import { loadExecution, readEvents } from '../../executor/index.ts';
import { compilePlan } from '../../plan/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { streamIdSchema } from './schemas.ts';

/** Events a page holds at most (a follower asks again from the last one). */
const PAGE = 1000;

export function registerLifecycleFollowRoutes(app: ControlApp, ctx: ControlContext): void {
  const executions = createRedisExecutionClient({
    redisUrl: ctx.redisUrl,
    prefix: ctx.prefix,
    compile: compilePlan,
  });
  app.addHook('onClose', () => executions.close());
  app.get(
    '/executions/:id/lifecycle/view',
    {
      schema: {
        hide: true,
        params: z.object({ id: z.string().min(1).max(200) }),
        querystring: z.object({ vms: z.enum(['true', 'false']).optional() }),
      },
    },
    async (request) => executions.get(request.params.id, { vms: request.query.vms === 'true' }),
  );
  app.get(
    '/executions/:id/lifecycle/events',
    {
      schema: {
        hide: true,
        params: z.object({ id: z.string().min(1).max(200) }),
        querystring: z.object({
          after: streamIdSchema({ bare: true }).optional(),
        }),
      },
    },
    async (request) => {
      await loadExecution(ctx.redis, ctx.prefix, request.params.id);
      const events = await readEvents(ctx.redis, ctx.prefix, request.params.id, {
        after: request.query.after ?? '0',
        count: PAGE,
      });
      return { events };
    },
  );
}
