/**
 * `GET /api/v1/executions/:id/vms`: what an execution's timeline page draws, one row per VM
 * (vm-timeline.ts folds them from the event log), the execution's status, its current wave, when
 * it started, how long it has run against the plan's estimate, and which of the page's actions
 * the caller's role and scopes allow in the execution's state now (`allowed`): a viewer gets none, so
 * it sees no buttons; no commit on an execution that is not a completed failover, no approve with no
 * manual action waiting. The API still refuses each action by itself (auth/route-rules.ts and the
 * engine's own checks); `allowed` only spares the page a refusal.
 */
import { z } from 'zod';
import {
  describeApprovals,
  type ExecutionRecord,
  loadExecution,
  loadPlanSnapshot,
  pausedStepIds,
} from '../../executor/index.ts';
import { compilePlan } from '../../plan/index.ts';
import type { RecoveryPlan } from '../../plan/types.ts';
import { grants, outOfScope, type Permission } from '../auth/index.ts';
import type { TokenRecord } from '../auth/tokens.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { ProblemSchema } from '../problem.ts';
import { asBuilt } from './as-built.ts';
import { ExecutionIdParams } from './schemas.ts';
import {
  catchUp,
  loadFold,
  newFold,
  saveFold,
  TIMELINE_STATES,
  type TimelineFold,
  type TimelineShape,
  type VmRow,
} from './vm-timeline.ts';

export const PAGE_ACTIONS = ['approve', 'retry', 'skip', 'done', 'commit', 'cancel', 'cleanup'] as const;
export type PageAction = (typeof PAGE_ACTIONS)[number];

export const ExecutionVmsSchema = z
  .object({
    execution: z.object({
      id: z.string(),
      plan: z.string(),
      type: z.string(),
      status: z.string(),
      currentWave: z.number().int().describe('the lowest wave with a VM not yet ready; `waves` when all are'),
      waves: z.number().int(),
      startedAt: z.string().optional(),
      finishedAt: z.string().optional(),
      elapsedMs: z.number().describe('start to finish, or to now while it runs'),
      estimateMs: z.number().optional().describe("the plan's RTO estimate (simulated plan time)"),
    }),
    vms: z.array(
      z.object({
        vm: z.string(),
        wave: z.number().int().describe("the VM's dependency level (0: depends on none)"),
        state: z.enum(TIMELINE_STATES),
        phase: z
          .string()
          .optional()
          .describe("the engine's phase when it says more (committed, cleaned-up…)"),
        startedAt: z.string().optional(),
        endedAt: z.string().optional(),
        step: z.string().optional().describe('the last step of this VM that started'),
      }),
    ),
    allowed: z
      .array(z.enum(PAGE_ACTIONS))
      .describe(
        "the page's actions this caller's role and scopes allow on this execution in its state now: approve only while a manual action waits, retry/skip/done only while a step is paused, commit only on a completed failover, cleanup only on a drill awaiting it, cancel only before it finished (the API still checks each)",
      ),
  })
  .meta({ id: 'ExecutionVms' });

const DRILL_TYPES = new Set(['test', 'cleanup']);
const RECOVERIES = new Set(['test', 'planned', 'unplanned']);

/** The permission each page action needs on an execution of this type; absent: not offered. */
function permissionOf(action: PageAction, type: string): Permission | undefined {
  const drill = DRILL_TYPES.has(type);
  switch (action) {
    case 'approve':
      return drill ? 'drill:approve' : 'failover:approve';
    case 'retry':
    case 'skip':
    case 'done':
      return drill ? 'drill:step' : 'failover:step';
    case 'commit':
      return type === 'planned' || type === 'unplanned' ? 'failover:commit' : undefined;
    case 'cancel':
      return type === 'planned' || type === 'unplanned' ? 'failover:cancel' : undefined;
    case 'cleanup':
      return type === 'test' ? 'drill:cleanup' : undefined;
  }
}

/** What an execution waits on an operator for, as far as the page's actions go. */
export interface Waiting {
  approvals: number;
  paused: number;
}

/** Statuses past which nothing runs: no cancel. */
const ENDED = new Set([
  'completed',
  'failed',
  'cancelled',
  'awaiting-cleanup',
  'cleaned-up',
  'committed',
  'rolled-back',
]);

/** Whether the execution's state leaves room for the action (the role aside). */
function openTo(action: PageAction, status: string, waiting: Waiting): boolean {
  switch (action) {
    case 'approve':
      return waiting.approvals > 0;
    case 'retry':
    case 'skip':
    case 'done':
      return waiting.paused > 0;
    case 'commit':
      return status === 'completed';
    case 'cleanup':
      return status === 'awaiting-cleanup';
    case 'cancel':
      return !ENDED.has(status);
  }
}

/** The page's actions the token's role and scopes grant on this execution, its state aside. */
export function grantedActions(
  token: TokenRecord | undefined,
  record: ExecutionRecord,
  plan: RecoveryPlan,
): PageAction[] {
  if (token === undefined) return [];
  if (outOfScope(token.scopes, { plan: record.planName, sites: [plan.source, plan.target] }) !== undefined)
    return [];
  return PAGE_ACTIONS.filter((action) => {
    const permission = permissionOf(action, record.type);
    return permission !== undefined && grants(token.role, permission);
  });
}

/** Of the granted actions, those the execution's state leaves open now. */
export function allowedActions(
  granted: readonly PageAction[],
  status: string,
  waiting: Waiting,
): PageAction[] {
  return granted.filter((action) => openTo(action, status, waiting));
}

/** What the execution waits on, read only when a granted action depends on it (a viewer: nothing). */
async function waitingOf(
  ctx: ControlContext,
  id: string,
  plan: RecoveryPlan,
  granted: readonly PageAction[],
): Promise<Waiting> {
  const approve = granted.includes('approve');
  const step = granted.some((action) => action === 'retry' || action === 'skip' || action === 'done');
  const [approvals, paused] = await Promise.all([
    approve ? describeApprovals(ctx.redis, ctx.prefix, id, plan) : [],
    step ? pausedStepIds(ctx.redis, ctx.prefix, id) : [],
  ]);
  return { approvals: approvals.length, paused: paused.length };
}

/** The VMs and their waves from the plan the execution runs. */
export function shapeOf(plan: RecoveryPlan, record: ExecutionRecord): TimelineShape & { waves: number } {
  const vms = plan.vms.map((vm) => vm.name);
  const waveOf = new Map<string, number>();
  const vmOfStep = new Map<string, string>();
  if (!RECOVERIES.has(record.type)) {
    for (const vm of vms) {
      for (const kind of ['shutdown', 'failover', 'boot', 'readiness', 'fence', 'return'])
        vmOfStep.set(`${vm}/${kind}`, vm);
    }
    return { vms, waveOf, vmOfStep, waves: vms.length === 0 ? 0 : 1 };
  }
  const compiled = compilePlan(plan, { type: record.type as 'test', direction: record.direction });
  const stepWave = new Map<string, number>();
  compiled.waves.forEach((wave, i) => {
    for (const id of wave) stepWave.set(id, i);
  });
  const levels = new Map<string, number>();
  for (const step of compiled.steps.values()) {
    if (step.vm === undefined) continue;
    vmOfStep.set(step.id, step.vm);
    if (step.kind === 'failover') levels.set(step.vm, stepWave.get(step.id) ?? 0);
  }
  // Dense: the VMs' failovers fall on step waves 0, 3, 6…; the page shows waves 0, 1, 2.
  const distinct = [...new Set(levels.values())].sort((a, b) => a - b);
  const rank = new Map(distinct.map((level, i) => [level, i]));
  for (const [vm, level] of levels) waveOf.set(vm, rank.get(level) ?? 0);
  return { vms, waveOf, vmOfStep, waves: distinct.length };
}

interface Kept {
  shape: TimelineShape & { waves: number };
  fold: TimelineFold;
  plan?: RecoveryPlan;
  /** One catch-up at a time per execution. */
  busy: Promise<void>;
  savedAt: number;
}

/** Executions whose folds are kept (a page or two each): the oldest is dropped past this. */
const KEPT = 16;
/** A running execution's fold is saved at most this often (vm-timeline.ts saveFold). */
const SAVE_EVERY_MS = 5_000;

export interface ExecutionVms {
  execution: z.infer<typeof ExecutionVmsSchema>['execution'];
  vms: VmRow[];
  allowed: PageAction[];
}

export function createVmTimelines(ctx: ControlContext) {
  const kept = new Map<string, Kept>();
  return async (
    id: string,
    token: TokenRecord | undefined,
    options: { rows?: boolean; now?: number } = {},
  ): Promise<ExecutionVms> => {
    const now = options.now ?? Date.now();
    const { record } = await loadExecution(ctx.redis, ctx.prefix, id);
    let entry = kept.get(id);
    if (entry === undefined) {
      // Saved by a control plane before: no compile of the plan, no read of the whole log.
      const saved = await loadFold(ctx.redis, ctx.prefix, id);
      let made: Kept;
      if (saved !== undefined) {
        made = { ...saved, busy: Promise.resolve(), savedAt: Date.now() };
      } else {
        const plan = await loadPlanSnapshot(ctx.redis, ctx.prefix, id);
        const shape = shapeOf(plan, record);
        made = { shape, plan, fold: newFold(shape), busy: Promise.resolve(), savedAt: 0 };
      }
      entry = kept.get(id) ?? made;
      if (kept.size >= KEPT) kept.delete(kept.keys().next().value ?? '');
      kept.set(id, entry);
    }
    const current = entry;
    current.busy = current.busy.then(async () => {
      const read = await catchUp(ctx.redis, ctx.prefix, id, current.fold, current.shape);
      const finished = current.fold.finishedAt !== undefined;
      if (read > 0 && (finished || Date.now() - current.savedAt >= SAVE_EVERY_MS)) {
        current.savedAt = Date.now();
        await saveFold(ctx.redis, ctx.prefix, id, current.fold, current.shape.waves);
      }
    });
    await current.busy;
    current.plan ??= await loadPlanSnapshot(ctx.redis, ctx.prefix, id);
    const { fold, shape } = current;
    const granted = grantedActions(token, record, current.plan);
    const vms = options.rows === false ? [] : [...fold.rows.values()];
    let currentWave = shape.waves;
    for (const row of fold.rows.values())
      if (row.state !== 'ready' && row.wave < currentWave) currentWave = row.wave;
    const startedAt = record.startedAt ?? fold.startedAt;
    const finishedAt = record.finishedAt ?? fold.finishedAt;
    const end = finishedAt === undefined ? now : Date.parse(finishedAt);
    return {
      execution: {
        id,
        plan: record.planName,
        type: record.type,
        status: record.status,
        currentWave,
        waves: shape.waves,
        ...(startedAt === undefined ? {} : { startedAt }),
        ...(finishedAt === undefined ? {} : { finishedAt }),
        elapsedMs: startedAt === undefined ? 0 : Math.max(0, end - Date.parse(startedAt)),
        ...(record.estimateMs === undefined ? {} : { estimateMs: record.estimateMs }),
      },
      vms,
      allowed: allowedActions(granted, record.status, await waitingOf(ctx, id, current.plan, granted)),
    };
  };
}

export function registerExecutionVmsRoutes(app: ControlApp, ctx: ControlContext): void {
  const timelines = createVmTimelines(ctx);
  app.get(
    '/executions/:id/vms',
    {
      ...asBuilt,
      schema: {
        tags: ['executions'],
        summary:
          "An execution's timeline: one row per VM from its event log, and the actions this caller may take",
        params: ExecutionIdParams,
        querystring: z.object({
          rows: z
            .stringbool()
            .default(true)
            .describe('false: the execution and `allowed` only, no VM rows (what the page re-reads)'),
        }),
        response: { 200: ExecutionVmsSchema, 400: ProblemSchema, 404: ProblemSchema },
      },
    },
    async (request) => await timelines(request.params.id, request.auth?.token, { rows: request.query.rows }),
  );
}
