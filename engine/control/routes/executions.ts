/**
 * `/api/v1/executions`: pre-flight (dry run), submit, list, status, approve, cleanup, and what
 * `drctl status` shows beside an execution (operator waits, lifecycle). Thin: the engine's own
 * client (engine/client createRedisExecutionClient, reading the hosts through `ctx.inventory`)
 * and the executor's store functions do the work; a plan is run by reference to a version stored
 * in the vault (POST /plans), never sent as code.
 */
import { z } from 'zod';
import { createRedisExecutionClient, measureRecoveryPointGap } from '../../client/index.ts';
import { DrError } from '../../common/index.ts';
import { approveAction, describeApprovals, describePaused, loadExecution } from '../../executor/index.ts';
import { compilePlan } from '../../plan/index.ts';
import type { RecoveryPlan } from '../../plan/types.ts';
import { PreflightBlockedError, selectSubset, subPlan } from '../../preflight/index.ts';
import { actorOf, listScopeOf, visible } from '../auth/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { createPlanReader } from '../plans/store.ts';
import { ProblemSchema } from '../problem.ts';
import { asBuilt } from './as-built.ts';
import { registerEventRoutes } from './events.ts';
import {
  ExecutionIdParams,
  ExecutionRecordSchema,
  ExecutionViewSchema,
  OperatorReceiptSchema,
  OperatorWaitsSchema,
  PreflightReportSchema,
  PreflightRequestSchema,
  SubmitRequestSchema,
  SubmitResultSchema,
} from './schemas.ts';

const refused = { 400: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema, 503: ProblemSchema };

type PreflightBody = z.infer<typeof PreflightRequestSchema>;

export function registerExecutionRoutes(app: ControlApp, ctx: ControlContext): void {
  // The inventory is the one wired in when the routes are mounted (startControlPlane's).
  const client = createRedisExecutionClient({
    redisUrl: ctx.redisUrl,
    prefix: ctx.prefix,
    compile: compilePlan,
    ...(ctx.inventory === undefined ? {} : { inventory: ctx.inventory }),
  });
  app.addHook('onClose', async () => await client.close());
  const readPlan = createPlanReader(ctx.redis, ctx.prefix);

  /** The body's settings as the client's options, with the stored plan they name. */
  const optionsOf = async (body: PreflightBody) => {
    const plan = await readPlan(body.plan.name, body.plan.hash);
    return {
      plan,
      type: body.type,
      ...(body.direction === undefined ? {} : { direction: body.direction }),
      ...(body.selection === undefined ? {} : { selection: body.selection }),
      ...(body.recoveryPoint === undefined ? {} : { recoveryPoint: body.recoveryPoint }),
      ...(body.accept === undefined ? {} : { accept: body.accept }),
      ...(body.maxUtilization === undefined ? {} : { maxUtilization: body.maxUtilization }),
    };
  };

  // `::` is fastify's escaped colon: the path is `/executions:preflight` (a custom method, AIP-136).
  app.post(
    '/executions::preflight',
    {
      ...asBuilt,
      schema: {
        tags: ['executions'],
        summary:
          'Pre-flight only (`--dry-run`): reads the sites and the locks, takes nothing, starts nothing',
        body: PreflightRequestSchema,
        response: { 200: PreflightReportSchema, ...refused },
      },
    },
    async (request) =>
      await client.preflight({
        ...(await optionsOf(request.body)),
        ...(request.body.exactPoints ? { exactPoints: true } : {}),
      }),
  );

  app.post(
    '/executions',
    {
      ...asBuilt,
      schema: {
        tags: ['executions'],
        summary: 'Pre-flight, then start a drill or failover of a stored plan version',
        description:
          'Nothing is stored unless every check passes and the locks were taken. A blocked pre-flight answers 409 PREFLIGHT_BLOCKED with the whole report in `details.report`.',
        body: SubmitRequestSchema,
        response: { 201: SubmitResultSchema, ...refused },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const options = await optionsOf(body);
      const gap =
        body.recoveryPointGap ??
        (body.type === 'unplanned' ? await measuredGap(ctx, options.plan, body) : undefined);
      try {
        const result = await client.submit({
          ...options,
          hash: body.plan.hash,
          by: actorOf(request),
          reason: body.reason,
          ...(gap === undefined ? {} : { recoveryPointGap: gap as never }),
          ...(body.approveManual ? { approveManual: true } : {}),
          ...(body.thenReprotect ? { thenReprotect: true } : {}),
        });
        return reply.code(201).send({ ...result, ...(gap === undefined ? {} : { recoveryPointGap: gap }) });
      } catch (error) {
        if (!(error instanceof PreflightBlockedError)) throw error;
        throw new DrError(error.code, error.message, { details: { report: error.report } });
      }
    },
  );

  app.get(
    '/executions',
    {
      ...asBuilt,
      schema: {
        tags: ['executions'],
        summary: 'The latest executions, newest first',
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(20) }),
        response: { 200: z.object({ executions: z.array(ExecutionRecordSchema) }), 400: ProblemSchema },
      },
    },
    async (request) => {
      const executions = await client.list({ limit: request.query.limit });
      // A scoped token sees its plans' executions only.
      const scope = listScopeOf(request, ctx);
      return { executions: scope === undefined ? executions : await visible(executions, scope.execution) };
    },
  );

  app.get(
    '/executions/:id',
    {
      ...asBuilt,
      schema: {
        tags: ['executions'],
        summary: "An execution's status; with ?vms=true each VM's phase, where it runs, and the wave",
        params: ExecutionIdParams,
        querystring: z.object({ vms: z.stringbool().default(false) }),
        response: { 200: ExecutionViewSchema, ...refused },
      },
    },
    async (request) => await client.get(request.params.id, { vms: request.query.vms }),
  );

  app.get(
    '/executions/:id/waits',
    {
      ...asBuilt,
      schema: {
        tags: ['executions'],
        summary: 'What the execution waits on an operator for: paused steps and manual approvals',
        params: ExecutionIdParams,
        response: { 200: OperatorWaitsSchema, ...refused },
      },
    },
    async (request) => {
      const id = request.params.id;
      await loadExecution(ctx.redis, ctx.prefix, id);
      return {
        paused: await describePaused(ctx.redis, ctx.prefix, id),
        approvals: await describeApprovals(ctx.redis, ctx.prefix, id),
      };
    },
  );

  app.post(
    '/executions/:id/approvals',
    {
      ...asBuilt,
      schema: {
        tags: ['executions'],
        summary: 'Approve a manual action the execution waits on (recorded with who and the comment)',
        params: ExecutionIdParams,
        body: z.strictObject({
          action: z.string().min(1).max(400).describe('the action name, or its step id (action/<name>)'),
          comment: z.string().max(2000).optional(),
          waitMs: z
            .number()
            .int()
            .min(0)
            .max(30_000)
            .default(0)
            .describe('how long to wait for the orchestrator to apply it'),
        }),
        response: { 200: OperatorReceiptSchema, ...refused },
      },
    },
    async (request) =>
      await approveAction(ctx.redis, ctx.prefix, request.params.id, request.body.action, actorOf(request), {
        comment: request.body.comment ?? '',
        waitMs: request.body.waitMs,
      }),
  );

  app.post(
    '/executions/:id/cleanup',
    {
      ...asBuilt,
      schema: {
        tags: ['executions'],
        summary: 'Start the cleanup of a drill (an execution of its own); submitting it twice starts one',
        params: ExecutionIdParams,
        body: z.strictObject({ reason: z.string().min(1).max(2000) }),
        response: { 200: z.object({ id: z.string(), created: z.boolean() }), ...refused },
      },
    },
    async (request) =>
      await client.cleanup(request.params.id, { by: actorOf(request), reason: request.body.reason }),
  );

  registerEventRoutes(app, ctx, client);
}

/** An unplanned failover submitted without the client's measure: the control plane takes it. */
async function measuredGap(
  ctx: ControlContext,
  plan: RecoveryPlan,
  body: z.infer<typeof SubmitRequestSchema>,
) {
  if (ctx.inventory === undefined) return undefined; // the submit refuses NO_INVENTORY
  const subset = selectSubset(plan, body.selection);
  return await measureRecoveryPointGap(
    ctx.inventory,
    subPlan(plan, subset.vms),
    body.direction ?? 'forward',
    body.recoveryPoint,
  );
}
