/**
 * Execution locks over the API: who holds a plan or VM (`drctl locks show`), and the operator's
 * forced release of a dead execution's locks (`drctl locks release`), naming a plan and/or VMs.
 */
import { z } from 'zod';
import { locksView, releaseHeldLocks } from '../../locks/index.ts';
import { listScopeOf, visibleEntries } from '../auth/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { ProblemSchema } from '../problem.ts';
import { MAX_VMS_PER_REQUEST, VmNameSchema } from './schemas.ts';

const Holder = z
  .object({
    execution: z.string(),
    plan: z.string(),
    operation: z.string().optional(),
    since: z.string(),
  })
  .meta({ id: 'LockHolder' });
const FailedOver = z
  .object({
    plan: z.string(),
    execution: z.string(),
    site: z.string(),
    direction: z.enum(['forward', 'failback']),
    at: z.string(),
  })
  .meta({ id: 'FailedOverRecord' });

const LocksViewSchema = z
  .union([
    z.object({
      plan: Holder.nullable().describe('the plan lock (null: free)'),
      vms: z.record(z.string(), Holder),
      failedOver: z.record(z.string(), FailedOver),
    }),
    z.object({
      plans: z.record(z.string(), Holder),
      vms: z.record(z.string(), Holder),
      failedOver: z.record(z.string(), FailedOver),
    }),
  ])
  .meta({ id: 'LocksView' });

const names = (text: string | undefined): string[] =>
  (text ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');

export function registerLocksRoutes(app: ControlApp, ctx: ControlContext): void {
  app.get(
    '/locks',
    {
      schema: {
        summary:
          'Who holds the plan lock and each VM lock; with neither plan nor vms, every lock held and every VM failed over',
        tags: ['locks'],
        querystring: z.object({
          plan: z.string().min(1).optional().describe('plan name (metadata.name)'),
          vms: z.string().optional().describe('VM names, comma-separated'),
        }),
        response: { 200: LocksViewSchema, 400: ProblemSchema },
      },
    },
    async (request) => {
      const view = await locksView(ctx.redis, ctx.prefix, {
        ...(request.query.plan === undefined ? {} : { plan: request.query.plan }),
        vms: names(request.query.vms),
      });
      // A scoped token sees the locks of its plans and the VMs they failed over only (a named plan
      // out of its scope was refused by the gate: route-rules.ts).
      const scope = listScopeOf(request, ctx);
      if (scope === undefined) return view;
      const narrowed = {
        vms: await visibleEntries(view.vms, async (_vm, holder) => scope.plan(holder.plan)),
        failedOver: await visibleEntries(view.failedOver, async (_vm, record) => scope.plan(record.plan)),
      };
      if ('plans' in view) {
        return { plans: await visibleEntries(view.plans, async (plan) => scope.plan(plan)), ...narrowed };
      }
      return {
        plan: view.plan !== null && (await scope.plan(view.plan.plan)) ? view.plan : null,
        ...narrowed,
      };
    },
  );
  app.post(
    '/locks/release',
    {
      schema: {
        summary: 'Free the plan lock and VM locks whoever holds them (an execution that will not be resumed)',
        tags: ['locks'],
        body: z.strictObject({
          plan: z.string().min(1).optional(),
          vms: z.array(VmNameSchema).max(MAX_VMS_PER_REQUEST).optional(),
        }),
        response: {
          200: z.object({
            released: z.array(z.object({ kind: z.enum(['plan', 'vm']), name: z.string(), holder: Holder })),
          }),
          400: ProblemSchema,
        },
      },
    },
    async (request) => releaseHeldLocks(ctx.redis, ctx.prefix, request.body),
  );
}
