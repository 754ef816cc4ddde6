/**
 * `drctl protect` over the API: Set-VM -AutomaticStartAction on a plan's primaries, as a protect
 * execution whose steps run at the agent of the site where each primary runs
 * (engine/executor store/protect.ts). Where the primaries run comes from the vault's inventory.
 */
import { z } from 'zod';
import { InputError } from '../../common/index.ts';
import { AUTOMATIC_START_ACTIONS, protectRows, submitProtect } from '../../executor/index.ts';
import { formatIssue, parsePlan } from '../../plan/index.ts';
import { actorOf } from '../auth/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { ProblemSchema } from '../problem.ts';
import { controlInventory } from './inventory.ts';

const refused = { 400: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema, 503: ProblemSchema };

const ProtectBodySchema = z.strictObject({
  file: z.string().min(1).max(1024).describe('where the plan came from, for located errors'),
  text: z.string().min(1).max(1_000_000).describe("the plan's YAML"),
  action: z.enum(AUTOMATIC_START_ACTIONS),
  vms: z.array(z.string().min(1).max(256)).min(1).max(20_000).optional(),
  reason: z.string().min(1).max(2000),
});

const PlacementSchema = z.object({
  vm: z.string(),
  site: z.string(),
  basis: z.string(),
  unread: z.object({ code: z.string(), message: z.string() }).optional(),
});

const SubmittedSchema = z.object({
  id: z.string(),
  epoch: z.number(),
  action: z.enum(AUTOMATIC_START_ACTIONS),
  placement: z.array(PlacementSchema),
  leftOut: z.array(z.object({ vm: z.string(), site: z.string(), code: z.string(), message: z.string() })),
});

const RowSchema = z.object({
  vm: z.string(),
  site: z.string().optional(),
  before: z.enum(AUTOMATIC_START_ACTIONS).optional(),
  after: z.enum(AUTOMATIC_START_ACTIONS).optional(),
  changed: z.boolean(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

export function registerProtectRoutes(app: ControlApp, ctx: ControlContext): void {
  const inventory = controlInventory(ctx);
  app.post(
    '/protections',
    {
      schema: {
        tags: ['protect'],
        summary:
          "Set the automatic start action of a plan's primaries (a protect execution, one step per VM at its site)",
        body: ProtectBodySchema,
        response: { 200: SubmittedSchema, ...refused },
      },
    },
    async (request) => {
      const body = request.body;
      const parsed = parsePlan(body.text, body.file);
      if (!parsed.ok) {
        throw new InputError(
          'PLAN_INVALID',
          `${body.file} is not a valid recovery plan; nothing was started:\n${parsed.issues.map(formatIssue).join('\n')}`,
        );
      }
      return await submitProtect(ctx.redis, ctx.prefix, {
        plan: parsed.plan,
        hash: parsed.hash,
        action: body.action,
        ...(body.vms === undefined ? {} : { vms: body.vms }),
        by: actorOf(request),
        reason: body.reason,
        hosts: inventory.require(),
      });
    },
  );
  app.get(
    '/executions/:id/protect',
    {
      schema: {
        tags: ['protect'],
        summary: "A protect execution's rows: each VM's site, action before and after, or the host's answer",
        params: z.object({ id: z.string().min(1).max(200) }),
        response: { 200: z.object({ vms: z.array(RowSchema) }), ...refused },
      },
    },
    async (request) => ({ vms: await protectRows(ctx.redis, ctx.prefix, request.params.id) }),
  );
}
