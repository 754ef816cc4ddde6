/**
 * The zod schemas of the plans and executions API: they validate requests, shape responses and are
 * the OpenAPI document's components (`.meta({ id })`). Responses the engine builds (records,
 * reports, receipts) are loose objects that document their main fields; they are sent as the
 * engine built them (as-built.ts), typed by the engine's own interfaces.
 */
import { z } from 'zod';
import type { ExecutionView, SubmitResult } from '../../client/index.ts';
import {
  type AwaitedApproval,
  EXECUTION_STATUSES,
  type ExecutionRecord,
  type LifecycleInfo,
  type LifecycleRunInfo,
  type OperatorReceipt,
  type PausedStep,
  type StoredEvent,
} from '../../executor/index.ts';
import type { PreflightReport } from '../../preflight/index.ts';
import { RecoveryPointSchema } from './lifecycle-schemas.ts';

// ---- limits ----------------------------------------------------------------------------------

/** VMs one request names at most: far above the largest plan, far below what would hurt. */
export const MAX_VMS_PER_REQUEST = 50_000;
/** A VM's name, as a request gives it. */
export const VmNameSchema = z.string().min(1).max(200);
/** A plan's YAML at most (`drctl plan generate --vms 10000 --depth 10` is about 1.5 MB). */
export const MAX_PLAN_TEXT = 8 * 1024 * 1024;

/**
 * A loose schema as the engine's own type: the schema documents the fields it names, the type says
 * what the engine sends (an interface has no index signature, a loose object's inferred type does).
 */
function shapeOf<T>(schema: z.ZodType): z.ZodType<T> {
  return schema as z.ZodType<T>;
}

// ---- plans -------------------------------------------------------------------------------------

export const PlanNameSchema = z.string().min(1).max(253).describe('metadata.name of the plan');
export const PlanHashSchema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'a sha256 in hex (64 characters)')
  .describe('content hash of the validated plan (sha256, `drctl validate` prints its first 12 characters)');

export const PlanUploadSchema = z
  .strictObject({
    file: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[^\n\r]+$/, 'one line')
      .default('plan.yaml')
      .describe('the file name issues are located in (file:line:column)'),
    text: z
      .string()
      .min(1)
      .max(MAX_PLAN_TEXT, 'a plan text is at most 8 MiB (a 10,000-VM plan is about 1.5 MB)')
      .describe("the plan's YAML; it names catalog scripts, it never carries code"),
  })
  .meta({ id: 'PlanUpload' });

export const PlanIssueSchema = z
  .object({
    code: z.string(),
    message: z.string(),
    file: z.string(),
    line: z.number().int(),
    column: z.number().int(),
    path: z.string(),
    severity: z.enum(['error', 'warning']),
    hint: z.string().optional(),
  })
  .meta({ id: 'PlanIssue' });

export const PlanVersionSchema = z
  .object({
    name: z.string(),
    hash: z.string(),
    file: z.string(),
    uploadedAt: z.string(),
    by: z.string(),
    vms: z.number().int(),
    groups: z.number().int(),
    actions: z.number().int(),
    text: z.string().optional().describe('the YAML as uploaded (one version, or the newest of a plan)'),
  })
  .meta({ id: 'PlanVersion' });

export const UploadResultSchema = z
  .object({ created: z.boolean(), version: PlanVersionSchema, warnings: z.array(PlanIssueSchema) })
  .meta({ id: 'PlanUploadResult' });

export const PlanSummarySchema = z
  .object({ name: z.string(), versions: z.number().int(), latest: PlanVersionSchema })
  .meta({ id: 'PlanSummary' });

// ---- event logs ----------------------------------------------------------------------------------

/**
 * A Redis stream id (`<ms>-<seq>`, or a bare `<ms>` when `bare`) whose parts are safe integers: a
 * longer one matches the digits but Redis refuses it, which would be a 500 instead of a 400.
 */
export function streamIdSchema(options: { bare?: boolean } = {}) {
  const shape = options.bare ? /^\d+(-\d+)?$/ : /^(0|\d+-\d+)$/;
  return z
    .string()
    .regex(shape, 'a stream id such as 1712345678901-0')
    .refine(isStreamIdInRange, "a stream id's parts are integers below 2^53");
}

export function isStreamIdInRange(id: string): boolean {
  return id.split('-').every((part) => Number.isSafeInteger(Number(part)));
}

// ---- executions --------------------------------------------------------------------------------

/** The pre-flight settings a dry run and a submit share (engine/client PreflightOptions). */
const preflightFields = {
  type: z.enum(['test', 'planned', 'unplanned']),
  plan: z
    .strictObject({ name: PlanNameSchema, hash: PlanHashSchema })
    .describe('a version stored in the vault (POST /api/v1/plans)'),
  direction: z.enum(['forward', 'failback']).optional(),
  selection: z
    .strictObject({
      vms: z.array(VmNameSchema).max(MAX_VMS_PER_REQUEST).optional(),
      group: z.union([z.number().int().positive(), z.string().max(200)]).optional(),
    })
    .optional()
    .describe('part of the plan (the union of both when both are given)'),
  recoveryPoint: RecoveryPointSchema.optional(),
  accept: z
    .array(z.string().max(200))
    .max(1000)
    .optional()
    .describe("blockers accepted for this run (pre-flight's acceptable ones)"),
  maxUtilization: z.number().gt(0).max(1).optional(),
};

export const PreflightRequestSchema = z
  .strictObject({
    ...preflightFields,
    exactPoints: z.boolean().optional().describe("list every VM's recovery points for exact ids"),
  })
  .meta({ id: 'PreflightRequest' });

const RecoveryPointGapSchema = z.looseObject({
  vms: z.array(z.looseObject({ vm: z.string() })),
  oldest: z.string().optional(),
  newest: z.string().optional(),
  spreadMs: z.number(),
});

export const SubmitRequestSchema = z
  .strictObject({
    ...preflightFields,
    reason: z.string().min(1).max(2000),
    recoveryPointGap: RecoveryPointGapSchema.optional().describe(
      'measured by the client before an unplanned failover; the control plane measures it when absent',
    ),
    approveManual: z.boolean().optional(),
    thenReprotect: z.boolean().optional(),
  })
  .meta({ id: 'SubmitRequest' });

const FindingSchema = z.looseObject({
  severity: z.enum(['blocker', 'warning']),
  code: z.string(),
  message: z.string(),
});

export const PreflightReportSchema = shapeOf<PreflightReport>(
  z
    .looseObject({
      ok: z.boolean(),
      plan: z.string(),
      type: z.string(),
      direction: z.string(),
      fromSite: z.string(),
      toSite: z.string(),
      checkedAt: z.string(),
      selected: z.array(z.string()),
      blockers: z.array(FindingSchema),
      warnings: z.array(FindingSchema),
      placements: z.array(z.looseObject({ vm: z.string() })),
      locksChecked: z.boolean(),
    })
    .meta({ id: 'PreflightReport' }),
);

export const SubmitResultSchema = shapeOf<SubmitResult>(
  z
    .object({
      id: z.string(),
      epoch: z.number().int(),
      stepsTotal: z.number().int(),
      estimateMs: z.number(),
      preflight: PreflightReportSchema,
      recoveryPointGap: RecoveryPointGapSchema.optional(),
    })
    .meta({ id: 'SubmitResult' }),
);

const executionRecord = z.looseObject({
  id: z.string(),
  type: z.string(),
  direction: z.enum(['forward', 'failback']),
  planName: z.string(),
  hash: z.string(),
  by: z.string(),
  reason: z.string(),
  epoch: z.number().int(),
  createdAt: z.string(),
  status: z.enum(EXECUTION_STATUSES),
  stepsTotal: z.number().int(),
  stepsDone: z.number().int(),
});

export const ExecutionRecordSchema = shapeOf<ExecutionRecord>(
  executionRecord.meta({ id: 'ExecutionRecord' }),
);

export const ExecutionViewSchema = shapeOf<ExecutionView>(
  executionRecord
    .extend({
      vms: z.record(z.string(), z.string()).optional().describe("each VM's phase (only with ?vms=true)"),
      where: z
        .record(z.string(), z.looseObject({ state: z.string(), text: z.string() }))
        .optional()
        .describe('where each VM runs (only with ?vms=true)'),
      currentWave: z.number().int().optional(),
      waves: z.number().int().optional(),
    })
    .meta({ id: 'ExecutionView' }),
);

export const ExecutionIdParams = z.object({ id: z.string().min(1).max(200) });

export const StoredEventSchema = shapeOf<StoredEvent>(
  z
    .object({
      id: z.string().describe('stream id, `<ms>-<seq>`'),
      event: z.looseObject({ type: z.string() }),
    })
    .meta({ id: 'StoredEvent' }),
);

export const OperatorReceiptSchema = shapeOf<OperatorReceipt>(
  z
    .looseObject({
      execution: z.string(),
      step: z.string(),
      command: z.string(),
      by: z.string(),
      givenAt: z.string(),
      applied: z.boolean(),
      accepted: z.boolean().optional(),
    })
    .meta({ id: 'OperatorReceipt' }),
);

export const OperatorWaitsSchema = shapeOf<{ paused: PausedStep[]; approvals: AwaitedApproval[] }>(
  z
    .object({
      paused: z.array(z.looseObject({ step: z.string(), attempt: z.number().int() })),
      approvals: z.array(z.looseObject({ step: z.string(), instruction: z.string(), command: z.string() })),
    })
    .meta({ id: 'OperatorWaits' }),
);

export const LifecycleStatusSchema = shapeOf<{ failover?: LifecycleInfo; run?: LifecycleRunInfo }>(
  z
    .object({
      failover: z
        .looseObject({ runs: z.array(z.looseObject({ id: z.string(), type: z.string() })) })
        .optional(),
      run: z.looseObject({ vms: z.array(z.string()) }).optional(),
    })
    .meta({ id: 'LifecycleStatus' }),
);
