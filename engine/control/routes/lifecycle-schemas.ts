/** The shapes the lifecycle routes answer with, as zod schemas (and so in /openapi.json). */
import { z } from 'zod';

export const RecoveryPointSchema = z
  .union([
    z.object({ kind: z.enum(['latest', 'latestProcessed', 'latestAppConsistent']) }),
    z.object({ kind: z.literal('at'), at: z.iso.datetime({ offset: true }) }),
  ])
  .meta({ id: 'RecoveryPointChoice' });

const LeftOut = z.object({ vm: z.string(), reason: z.string() });

export const LifecycleReportSchema = z
  .object({
    ok: z.boolean(),
    operation: z.enum(['commit', 'change-point', 'cancel', 'reprotect']),
    execution: z.string(),
    plan: z.string(),
    fromSite: z.string(),
    toSite: z.string(),
    checkedAt: z.string(),
    vms: z.array(z.string()).describe('the VMs the operation acts on'),
    leftOut: z.array(LeftOut),
    blockers: z.array(z.unknown()),
    warnings: z.array(z.unknown()),
    rows: z.array(z.unknown()).describe('per VM: where it runs and what the operation does with it'),
    stats: z.object({ apiCalls: z.number() }),
  })
  .meta({ id: 'LifecycleReport' });

export const LifecycleRunSchema = z
  .object({
    parent: z.string().describe('the failover it acts on'),
    vms: z.array(z.string()),
    skipped: z.array(LeftOut).describe('VMs of the plan it does not act on, and why'),
    notUndone: z.array(z.string()).optional().describe('cancel: actions that ran and have no undo'),
    undone: z.array(z.string()).optional(),
    partial: z.boolean().optional(),
  })
  .meta({ id: 'LifecycleRun' });

const RunRef = z.object({
  id: z.string(),
  type: z.enum(['commit', 'change-point', 'cancel', 'reprotect']),
  at: z.string(),
  by: z.string(),
  reason: z.string(),
  recoveryPoint: RecoveryPointSchema.optional(),
});

export const LifecycleSubmittedSchema = z
  .object({
    id: z.string().describe('the lifecycle execution'),
    created: z.boolean().describe('false: the same operation was already submitted; this is it'),
    dryRun: z.boolean().optional().describe('true: pre-flight only, nothing was changed'),
    preflight: LifecycleReportSchema.optional(),
    pendingCancelOf: z.string().optional().describe('a running failover told to stop first'),
    run: LifecycleRunSchema.optional(),
    failover: z.string().optional().describe('reprotect: the failover it reprotects'),
  })
  .meta({ id: 'LifecycleSubmitted' });

export const FailbackSubmittedSchema = z
  .object({
    id: z.string(),
    epoch: z.number(),
    stepsTotal: z.number(),
    thenReprotect: z.boolean(),
    failover: z.string().describe('the reprotected failover it fails back'),
  })
  .meta({ id: 'FailbackSubmitted' });

export const LifecycleStateSchema = z
  .object({
    id: z.string(),
    status: z.string(),
    type: z.string(),
    lifecycle: z.object({
      runs: z.array(RunRef),
      current: z.string().optional(),
      committed: z.array(z.string()).optional(),
      notCommitted: z.array(LeftOut).optional(),
      pendingCancel: RunRef.optional(),
    }),
    run: LifecycleRunSchema.optional(),
    reversed: z.boolean().optional().describe("reprotect: every VM's replication is reversed"),
    resync: z
      .array(
        z.object({
          vm: z.string(),
          bytes: z.number().optional(),
          estimateMs: z.number().optional(),
          waitedMs: z.number().optional(),
          health: z.string().optional(),
        }),
      )
      .optional(),
  })
  .meta({ id: 'LifecycleState' });
