/**
 * An execution's exercise report as data: what SOC 2 (A1.3) and ISO 22301 (8.5) ask of recovery
 * exercise evidence, all of it computed from the execution's record and event log (build.ts). The
 * zod schema is the JSON form's contract (`drctl report --json`, `GET .../report?format=json`,
 * /openapi.json); the HTML form (html.ts) renders exactly this.
 */
import { z } from 'zod';
import { EXECUTION_STATUSES, EXECUTION_TYPES, LOSS_BOUNDS } from '../contract/index.ts';

export const REPORT_SCHEMA_VERSION = 1;

/** pass / fail against a target; `no-target` when the plan sets none, `not-measured` when nothing was achieved. */
export const VERDICTS = ['pass', 'fail', 'no-target', 'not-measured'] as const;
export type Verdict = (typeof VERDICTS)[number];

const verdict = z.enum(VERDICTS);

const objectiveSchema = z.object({
  targetMs: z.number().optional().describe("the plan's spec.targets value, ms"),
  achievedMs: z.number().optional().describe('the worst achieved value, ms'),
  verdict,
});

const recoveryPointSchema = z.object({
  id: z.string().optional(),
  kind: z.string().optional(),
  time: z.string().describe("time of the newest data the point holds (ISO, the sites' clock)"),
});

const lossSchema = z.object({
  windowStart: z.string(),
  windowEnd: z.string(),
  windowMs: z.number(),
  bound: z.enum(LOSS_BOUNDS),
  basis: z.string(),
});

export const reportVmSchema = z.object({
  vm: z.string(),
  phase: z.string().optional().describe('its last phase in the event log'),
  recoveryPoint: recoveryPointSchema.optional(),
  readyAt: z.string().optional().describe('when it became ready (ISO, wall clock)'),
  rto: objectiveSchema.describe('submit → this VM ready (wall ms) against spec.targets.rto'),
  dataLoss: lossSchema
    .optional()
    .describe(
      "the engine's data-loss claim (failover) or, for a drill, what a failover at that moment would have lost",
    ),
  rpo: objectiveSchema.describe('the data-loss window against spec.targets.rpo'),
});

export const reportActionSchema = z.object({
  step: z.string(),
  action: z.string(),
  kind: z.enum(['script', 'webhook', 'manual']),
  outcome: z.string(),
  attempt: z.number(),
  at: z.string(),
  site: z.string(),
  stdout: z.string().optional(),
  stderr: z.string().optional(),
  truncated: z.boolean().optional(),
  output: z.string().optional().describe("the step's other output, as JSON"),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

export const reportApprovalSchema = z.object({
  step: z.string(),
  by: z.string(),
  comment: z.string(),
  givenAt: z.string(),
  appliedAt: z.string(),
  accepted: z.boolean(),
  detail: z.string().optional(),
});

export const reportErrorSchema = z.object({
  step: z.string(),
  at: z.string(),
  attempt: z.number(),
  code: z.string(),
  message: z.string(),
  resolution: z
    .enum(['retried-ok', 'retried-failed', 'skipped', 'marked-done', 'unresolved', 'continued'])
    .describe(
      'how it ended: a later attempt succeeded (retried-ok) or failed again, an operator skipped it or marked it done, it stayed failed, or it only warned and the plan went on',
    ),
  resolvedBy: z.string().optional(),
  resolvedAt: z.string().optional(),
  reason: z.string().optional(),
});

export const reportCleanupSchema = z.object({
  execution: z.string().optional(),
  status: z.string(),
  complete: z.boolean().describe('every test VM the drill made was removed, as the events show'),
  vms: z.array(
    z.object({
      vm: z.string(),
      testVm: z.string().optional(),
      outcome: z.string(),
      removed: z.boolean().describe('false: it was already gone'),
      at: z.string(),
    }),
  ),
  missing: z.array(z.string()).describe('VMs of the drill with no cleanup done'),
});

export const timelineEntrySchema = z.object({
  at: z.string(),
  offsetMs: z.number(),
  execution: z.string(),
  text: z.string(),
  output: z.array(z.string()).optional(),
});

export const executionReportSchema = z
  .object({
    v: z.literal(REPORT_SCHEMA_VERSION),
    kind: z.literal('execution-report'),
    generatedAt: z.string(),
    execution: z.object({
      id: z.string(),
      type: z.enum(EXECUTION_TYPES),
      direction: z.string(),
      status: z.enum(EXECUTION_STATUSES),
      by: z.string(),
      reason: z.string(),
      createdAt: z.string(),
      startedAt: z.string().optional(),
      finishedAt: z.string().optional(),
      readyAt: z.string().optional(),
      epoch: z.number(),
      error: z.string().optional(),
      parent: z.string().optional(),
      cleanup: z.string().optional(),
      estimateMs: z.number().optional(),
      durationMs: z.number().optional(),
    }),
    scope: z.object({
      plan: z.string(),
      description: z.string().optional(),
      hash: z.string().describe("the plan version's hash (the snapshot the execution ran)"),
      source: z.string(),
      target: z.string(),
      vms: z.array(z.string()),
      recoveryPoint: z.string().describe("the plan's recovery point choice, or the one given at run time"),
    }),
    objectives: z.object({
      rto: objectiveSchema.describe('submit → last VM ready (wall), the achieved RTO the engine recorded'),
      rpo: objectiveSchema.describe("the widest data-loss window (the sites' clock)"),
      verdict: verdict.describe(
        'fail when either fails, pass when both pass or one passes and the other has no target',
      ),
    }),
    vms: z.array(reportVmSchema),
    approvals: z.array(reportApprovalSchema),
    actions: z.array(reportActionSchema),
    errors: z.array(reportErrorSchema),
    cleanup: reportCleanupSchema.optional().describe('a drill: proof that its test VMs were removed'),
    timeline: z.array(timelineEntrySchema),
    clocks: z.string(),
  })
  .meta({ id: 'ExecutionReport' });

export type ExecutionReport = z.infer<typeof executionReportSchema>;
export type ReportVm = z.infer<typeof reportVmSchema>;
export type ReportAction = z.infer<typeof reportActionSchema>;
export type ReportError = z.infer<typeof reportErrorSchema>;
export type ReportCleanup = z.infer<typeof reportCleanupSchema>;
export type Objective = z.infer<typeof objectiveSchema>;

export const drillHistoryRowSchema = z.object({
  execution: z.string(),
  createdAt: z.string(),
  status: z.string(),
  by: z.string(),
  reason: z.string(),
  hash: z.string(),
  vms: z.number(),
  rto: objectiveSchema,
  rpo: objectiveSchema,
  verdict: verdict,
});

export const drillHistorySchema = z
  .object({
    v: z.literal(REPORT_SCHEMA_VERSION),
    kind: z.literal('drill-history'),
    plan: z.string(),
    generatedAt: z.string(),
    targets: z.object({ rtoMs: z.number().optional(), rpoMs: z.number().optional() }),
    drills: z.array(drillHistoryRowSchema).describe('oldest first'),
  })
  .meta({ id: 'DrillHistory' });

export type DrillHistory = z.infer<typeof drillHistorySchema>;
export type DrillHistoryRow = z.infer<typeof drillHistoryRowSchema>;

/**
 * Judge an achieved value against a target (both ms): at or under the target passes. No target:
 * `no-target`; a target with nothing achieved (the run never got there): `not-measured`.
 */
export function judge(targetMs: number | undefined, achievedMs: number | undefined): Objective {
  let verdictOf: Verdict;
  if (targetMs === undefined) verdictOf = 'no-target';
  else if (achievedMs === undefined) verdictOf = 'not-measured';
  else verdictOf = achievedMs <= targetMs ? 'pass' : 'fail';
  return {
    ...(targetMs === undefined ? {} : { targetMs }),
    ...(achievedMs === undefined ? {} : { achievedMs }),
    verdict: verdictOf,
  };
}

const RANK: Record<Verdict, number> = { fail: 3, 'not-measured': 2, pass: 1, 'no-target': 0 };

/** Several verdicts in one: any fail fails, then a target not met by any measure, then pass. */
export function overall(...verdicts: Verdict[]): Verdict {
  return verdicts.reduce<Verdict>((worst, v) => (RANK[v] > RANK[worst] ? v : worst), 'no-target');
}
