/**
 * `/api/v1/plans`: upload a recovery plan (validated as `drctl validate` does, every issue located
 * file:line:column) and read the versions the vault keeps of it, by content hash.
 */
import { z } from 'zod';
import { actorOf, listScopeOf, visible } from '../auth/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import {
  getPlanVersion,
  latestPlanVersion,
  listPlans,
  listPlanVersions,
  uploadPlan,
} from '../plans/store.ts';
import { ProblemSchema } from '../problem.ts';
import {
  MAX_PLAN_TEXT,
  PlanHashSchema,
  PlanNameSchema,
  PlanSummarySchema,
  PlanUploadSchema,
  PlanVersionSchema,
  UploadResultSchema,
} from './schemas.ts';

/** The plan text's cap, JSON-escaped (newlines and quotes double at most), and the other fields. */
const PLAN_BODY_LIMIT = 2 * MAX_PLAN_TEXT + 64 * 1024;

const NameParams = z.object({ name: PlanNameSchema });
const refused = { 400: ProblemSchema, 404: ProblemSchema, 503: ProblemSchema };

export function registerPlanRoutes(app: ControlApp, ctx: ControlContext): void {
  app.post(
    '/plans',
    {
      bodyLimit: PLAN_BODY_LIMIT,
      schema: {
        tags: ['plans'],
        summary: 'Upload a recovery plan: validated, then stored as a version by its content hash',
        description:
          'The same validation as `drctl validate`: an invalid plan answers 400 PLAN_INVALID, every issue in `issues` (file:line:column) and `details.issues`. Uploading a version the vault has is not an error (201 created: false, 200).',
        body: PlanUploadSchema,
        response: { 200: UploadResultSchema, 201: UploadResultSchema, ...refused, 413: ProblemSchema },
      },
    },
    async (request, reply) => {
      const result = await uploadPlan(ctx.redis, ctx.prefix, {
        file: request.body.file,
        text: request.body.text,
        by: actorOf(request),
      });
      return reply.code(result.created ? 201 : 200).send(result);
    },
  );

  app.get(
    '/plans',
    {
      schema: {
        tags: ['plans'],
        summary: 'Every plan in the vault with its newest version',
        response: { 200: z.object({ plans: z.array(PlanSummarySchema) }), 503: ProblemSchema },
      },
    },
    async (request) => {
      const plans = await listPlans(ctx.redis, ctx.prefix);
      // A scoped token sees the plans it may act on only.
      const scope = listScopeOf(request, ctx);
      return { plans: scope === undefined ? plans : await visible(plans, (p) => scope.plan(p.name)) };
    },
  );

  app.get(
    '/plans/:name',
    {
      schema: {
        tags: ['plans'],
        summary: "A plan's newest version, with its YAML",
        params: NameParams,
        response: { 200: PlanVersionSchema, ...refused },
      },
    },
    async (request) => await latestPlanVersion(ctx.redis, ctx.prefix, request.params.name),
  );

  app.get(
    '/plans/:name/versions',
    {
      schema: {
        tags: ['plans'],
        summary: 'The versions of a plan, newest first',
        params: NameParams,
        response: { 200: z.object({ versions: z.array(PlanVersionSchema) }), ...refused },
      },
    },
    async (request) => ({ versions: await listPlanVersions(ctx.redis, ctx.prefix, request.params.name) }),
  );

  app.get(
    '/plans/:name/versions/:hash',
    {
      schema: {
        tags: ['plans'],
        summary: 'One version of a plan, with its YAML',
        params: NameParams.extend({ hash: PlanHashSchema }),
        response: { 200: PlanVersionSchema, ...refused },
      },
    },
    async (request) =>
      await getPlanVersion(ctx.redis, ctx.prefix, request.params.name, request.params.hash, { text: true }),
  );
}
