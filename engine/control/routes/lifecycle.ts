/**
 * A failover's lifecycle over the API: commit, change of recovery point, cancel, reprotect and
 * failback of an execution (or of a plan's newest failover), and what a follower reads of them.
 * Thin: the engine's lifecycle module (engine/client lifecycle.ts) does the work, as it does for
 * the CLI's in-process path; pre-flight reads the vault's inventory (absent: NO_INVENTORY).
 */
import { z } from 'zod';
import {
  cancelFailover,
  changeRecoveryPoint,
  commitFailover,
  createRedisExecutionClient,
  type FailoverTarget,
  failBack,
  type LifecycleDeps,
  readLifecycleState,
  reprotectFailover,
} from '../../client/index.ts';
import { DrError, InputError } from '../../common/index.ts';
import { loadExecution, loadPlanSnapshot } from '../../executor/index.ts';
import { compilePlan, formatIssue, parsePlan } from '../../plan/index.ts';
import type { RecoveryPlan } from '../../plan/types.ts';
import { LifecycleBlockedError, PreflightBlockedError } from '../../preflight/index.ts';
import { actorOf } from '../auth/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { ProblemSchema } from '../problem.ts';
import { controlInventory } from './inventory.ts';
import {
  FailbackSubmittedSchema,
  LifecycleStateSchema,
  LifecycleSubmittedSchema,
  RecoveryPointSchema,
} from './lifecycle-schemas.ts';
import { MAX_VMS_PER_REQUEST, VmNameSchema } from './schemas.ts';

const Id = z.object({ id: z.string().min(1).max(200).describe('the failover (execution id)') });
const PlanName = z.object({ name: z.string().min(1).max(200).describe("the plan's metadata.name") });
/** Who asks is the token's owner (auth/hook.ts actorOf), kept with the execution. */
const Ask = {
  reason: z.string().max(2000).optional().describe('why (kept with the execution)'),
  dryRun: z.boolean().optional().describe('pre-flight only: say what would be done and what blocks it'),
};

const Discard = z.object({
  vms: z.union([z.literal('all'), z.array(VmNameSchema).min(1).max(MAX_VMS_PER_REQUEST)]),
  reason: z.string().min(1).max(2000).describe('why (required: recorded with who)'),
  givenAt: z.iso.datetime({ offset: true }).optional(),
});

const ReprotectBody = z.strictObject({
  ...Ask,
  discardDiverged: Discard.optional().describe(
    'VMs whose old primaries ran in two sites: let the reverse overwrite what they wrote meanwhile',
  ),
  file: z.string().max(1000).optional().describe("how the caller names the plan's file, in refusals"),
});

const FailbackBody = z.strictObject({
  reason: Ask.reason,
  plan: z
    .string()
    .max(5_000_000)
    .optional()
    .describe("the plan's YAML as the caller holds it; default: the plan the failover ran"),
  file: z.string().max(1000).optional().describe("how the caller names the plan's file, in refusals"),
  approveManual: z.boolean().optional().describe("count the plan's manual actions as approved"),
  thenReprotect: z
    .boolean()
    .default(true)
    .describe('reverse replication to the original direction once every VM is home'),
});

const refusals = { 400: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema, 503: ProblemSchema };

/** A pre-flight that blocks answers 409 with its whole report, for the client to print as the CLI does. */
async function reported<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof LifecycleBlockedError || error instanceof PreflightBlockedError) {
      throw new DrError(error.code, error.message, {
        details: {
          ...error.details,
          report: error.report,
          kind: error instanceof LifecycleBlockedError ? 'lifecycle' : 'failover',
        },
      });
    }
    throw error;
  }
}

export function registerLifecycleRoutes(app: ControlApp, ctx: ControlContext): void {
  const hosts = controlInventory(ctx);
  const deps = (): LifecycleDeps => ({ redis: ctx.redis, prefix: ctx.prefix, hosts: hosts.require() });
  const executions = createRedisExecutionClient({
    redisUrl: ctx.redisUrl,
    prefix: ctx.prefix,
    compile: compilePlan,
    inventory: hosts.api,
  });
  app.addHook('onClose', () => executions.close());

  app.post(
    '/executions/:id/commit',
    {
      schema: {
        summary: 'Commit a failover: Complete-VMFailover on every failed-over VM (the point of no return)',
        tags: ['lifecycle'],
        params: Id,
        body: z.strictObject({
          ...Ask,
          partial: z.boolean().optional().describe('commit the VMs that failed over when some did not'),
        }),
        response: { 200: LifecycleSubmittedSchema, ...refusals },
      },
    },
    async (request) =>
      reported(() =>
        commitFailover(deps(), request.params.id, {
          ...request.body,
          by: actorOf(request),
          reason: request.body.reason ?? `commit of ${request.params.id}`,
        }),
      ),
  );

  app.post(
    '/executions/:id/change-point',
    {
      schema: {
        summary: 'Before commit: fail the VMs over again from another recovery point',
        tags: ['lifecycle'],
        params: Id,
        body: z.strictObject({ ...Ask, recoveryPoint: RecoveryPointSchema }),
        response: { 200: LifecycleSubmittedSchema, ...refusals },
      },
    },
    async (request) =>
      reported(() =>
        changeRecoveryPoint(deps(), request.params.id, {
          ...request.body,
          by: actorOf(request),
          reason: request.body.reason ?? `change of recovery point of ${request.params.id}`,
        }),
      ),
  );

  app.post(
    '/executions/:id/cancel',
    {
      schema: {
        summary: 'Roll a failover back before its point of no return (a running one stops dispatching first)',
        tags: ['lifecycle'],
        params: Id,
        body: z.strictObject(Ask),
        response: { 200: LifecycleSubmittedSchema, ...refusals },
      },
    },
    async (request) =>
      reported(() =>
        cancelFailover(deps(), request.params.id, {
          ...request.body,
          by: actorOf(request),
          reason: request.body.reason ?? `cancel of ${request.params.id}`,
        }),
      ),
  );

  const reprotect = (target: FailoverTarget, body: z.infer<typeof ReprotectBody>, by: string) => {
    const { discardDiverged, file: _file, ...ask } = body;
    return reported(() =>
      reprotectFailover(deps(), target, {
        ...ask,
        by,
        ...(discardDiverged === undefined ? {} : { discardDiverged: { ...discardDiverged, by } }),
      }),
    );
  };
  const reprotectSchema = {
    tags: ['lifecycle'],
    body: ReprotectBody,
    response: { 200: LifecycleSubmittedSchema, ...refusals },
  };
  app.post(
    '/executions/:id/reprotect',
    {
      schema: {
        ...reprotectSchema,
        summary: 'Reverse replication of what a failover brought up (Set-VMReplication -Reverse)',
        params: Id,
      },
    },
    async (request) => reprotect({ failover: request.params.id }, request.body, actorOf(request)),
  );
  app.post(
    '/plans/:name/reprotect',
    {
      schema: {
        ...reprotectSchema,
        summary: "Reverse replication of the plan's newest failover",
        params: PlanName,
      },
    },
    async (request) =>
      reprotect(
        {
          plan: request.params.name,
          ...(request.body.file === undefined ? {} : { file: request.body.file }),
        },
        request.body,
        actorOf(request),
      ),
  );

  const failback = async (target: FailoverTarget, body: z.infer<typeof FailbackBody>, by: string) => {
    const { plan, hash } =
      body.plan === undefined && 'failover' in target
        ? await storedPlan(ctx, target.failover)
        : parsed(body.plan, body.file ?? `${'plan' in target ? target.plan : 'plan'}.yaml`);
    return await reported(() =>
      failBack({ ...deps(), submit: executions.submit }, target, {
        by,
        plan,
        hash,
        thenReprotect: body.thenReprotect,
        ...(body.reason === undefined ? {} : { reason: body.reason }),
        ...(body.approveManual ? { approveManual: true } : {}),
      }),
    );
  };
  const failbackSchema = {
    tags: ['lifecycle'],
    body: FailbackBody,
    response: { 200: FailbackSubmittedSchema, ...refusals },
  };
  app.post(
    '/executions/:id/failback',
    {
      schema: {
        ...failbackSchema,
        summary: 'Planned failover of a reprotected failover back to its original site, then reprotect',
        params: Id,
      },
    },
    async (request) => failback({ failover: request.params.id }, request.body, actorOf(request)),
  );
  app.post(
    '/plans/:name/failback',
    {
      schema: {
        ...failbackSchema,
        summary: "Planned failover of the plan's reprotected failover back home, then reprotect",
        params: PlanName,
      },
    },
    async (request) =>
      failback(
        {
          plan: request.params.name,
          ...(request.body.file === undefined ? {} : { file: request.body.file }),
        },
        request.body,
        actorOf(request),
      ),
  );

  app.get(
    '/executions/:id/lifecycle',
    {
      schema: {
        summary:
          "A failover's lifecycle (its operations, a pending cancel) or a lifecycle execution's run and, for a reprotect, its resync",
        tags: ['lifecycle'],
        params: z.object({ id: z.string().min(1).max(200) }),
        querystring: z.object({
          resync: z
            .enum(['true', 'false'])
            .optional()
            .describe("a reprotect's per-VM resync, read from its event log"),
        }),
        response: { 200: LifecycleStateSchema, ...refusals },
      },
    },
    async (request) => {
      const state = await readLifecycleState(ctx.redis, ctx.prefix, request.params.id, {
        resync: request.query.resync === 'true',
      });
      if (state !== undefined) return state;
      // Not stored (yet): the engine's own refusal, with its hint.
      await loadExecution(ctx.redis, ctx.prefix, request.params.id);
      throw new DrError('EXECUTION_NOT_FOUND', `no execution "${request.params.id}"`, { exitCode: 2 });
    },
  );
}

function parsed(text: string | undefined, file: string): { plan: RecoveryPlan; hash: string } {
  if (text === undefined)
    throw new InputError('NO_PLAN', 'a failback by plan name needs the plan: give its YAML in `plan`');
  const result = parsePlan(text, file);
  if (!result.ok)
    throw new InputError(
      'PLAN_INVALID',
      `${file} is not a valid recovery plan; nothing was started:\n${result.issues.map(formatIssue).join('\n')}`,
    );
  return { plan: result.plan, hash: result.hash };
}

async function storedPlan(
  ctx: ControlContext,
  failover: string,
): Promise<{ plan: RecoveryPlan; hash: string }> {
  const { record } = await loadExecution(ctx.redis, ctx.prefix, failover);
  return { plan: await loadPlanSnapshot(ctx.redis, ctx.prefix, failover), hash: record.hash };
}
