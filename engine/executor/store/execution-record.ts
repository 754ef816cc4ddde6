/**
 * An execution as stored in its meta hash, parsed (never cast) into a typed record.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { DrError } from '../../common/index.ts';
import {
  AUTOMATIC_START_ACTIONS,
  type AutomaticEvidence,
  type AutomaticStartActionName,
  automaticEvidenceSchema,
  type DataLossClaim,
  dataLossClaimSchema,
  EXECUTION_STATUSES,
  EXECUTION_TYPES,
  type ExecutionStatus,
  type ExecutionType,
  type VmRecoveryPointInfo,
} from '../../contract/index.ts';
import type { Direction, RecoveryPlan, RecoveryPointChoice } from '../../plan/types.ts';
import { executionKeys } from '../keys.ts';
import { type FailbackPhase, failbackPhase } from './failback-phase.ts';

/** One VM's data-loss claim (engine/contract/data-loss.ts), as the execution records it. */
export type DataLossEntry = DataLossClaim;

/** What `get`/`status` show of an execution. */
export interface ExecutionRecord {
  id: string;
  type: ExecutionType;
  direction: Direction;
  planName: string;
  hash: string;
  by: string;
  reason: string;
  epoch: number;
  createdAt: string;
  status: ExecutionStatus;
  recoveryPoint?: RecoveryPointChoice;
  /** For a cleanup: the drill it cleans up. For a drill: its cleanup, once submitted. */
  parent?: string;
  cleanup?: string;
  /** Drill: when it is cleaned up by itself (ISO). */
  deadline?: string;
  stepsTotal: number;
  stepsDone: number;
  startedAt?: string;
  finishedAt?: string;
  /**
   * Achieved RTO of a recovery (drill, planned/unplanned failover, failback) that reached its end:
   * submit to the last VM ready, wall-clock ms, queueing with no orchestrator included. Absent for
   * a failed or cancelled run, a cleanup and the lifecycle executions (they report `durationMs`).
   */
  rtoMs?: number;
  /** When the last VM became ready (ISO, the orchestrator's clock). */
  readyAt?: string;
  /** Submit to finish, wall-clock ms (every execution). */
  durationMs?: number;
  /** The orchestrator's start (first dispatch) to finish, wall-clock ms: the benches' figure. */
  runMs?: number;
  /** The plan's RTO estimate of this run: simulated (plan) time, from the plan's step estimates. */
  estimateMs?: number;
  owner?: string;
  error?: string;
  dataLoss?: DataLossEntry[];
  approveManual?: boolean;
  /** A planned failback that reverses replication itself once every VM is home. */
  thenReprotect?: boolean;
  /** Such a failback: which of its two phases it is in (failback-phase.ts). */
  phase?: FailbackPhase;
  recoveryPointGap?: { vms: VmRecoveryPointInfo[]; oldest?: string; newest?: string; spreadMs: number };
  /** Started by the engine itself after a site was lost (engine/control/auto): why. */
  automatic?: AutomaticEvidence;
  /** A protect execution: what it sets, and where (store/protect.ts). */
  protect?: ProtectInfo;
}

/** What a protect execution sets, and the site of each VM's step (meta field `protect`). */
export interface ProtectInfo {
  action: AutomaticStartActionName;
  /** VM → the site where it ran as the primary when the protect was submitted: its step's queue. */
  sites: Record<string, string>;
  /**
   * VMs given no step: the site they would run at could not be read at submit (its site
   * unreachable), so no worker of it would take the job either, and a job left waiting there
   * would hold their locks (and the plan's) against a failover. Each with the read's answer.
   */
  leftOut?: { vm: string; site: string; code: string; message: string }[];
}

const protectInfoSchema = z.object({
  action: z.enum(AUTOMATIC_START_ACTIONS),
  sites: z.record(z.string(), z.string()),
  leftOut: z
    .array(z.object({ vm: z.string(), site: z.string(), code: z.string(), message: z.string() }))
    .optional(),
});

const optionalNumber = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : Number(v)));
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const metaSchema = z.object({
  id: z.string(),
  type: z.enum(EXECUTION_TYPES),
  direction: z.enum(['forward', 'failback']),
  planName: z.string(),
  hash: z.string(),
  by: z.string(),
  reason: z.string(),
  epoch: z.string().transform(Number),
  createdAt: z.string(),
  status: z.enum(EXECUTION_STATUSES),
  recoveryPoint: optionalString,
  parent: optionalString,
  cleanup: optionalString,
  deadlineAt: optionalNumber,
  total: z.string().transform(Number),
  done: z
    .string()
    .optional()
    .transform((v) => Number(v ?? 0)),
  startedAt: optionalNumber,
  finishedAt: optionalNumber,
  rtoMs: optionalNumber,
  lastReadyAt: optionalNumber,
  durationMs: optionalNumber,
  runMs: optionalNumber,
  estimateMs: optionalNumber,
  owner: optionalString,
  error: optionalString,
  dataLoss: optionalString,
  recoveryPointGap: optionalString,
  approveManual: optionalString,
  thenReprotect: optionalString,
  lifecycle: optionalString,
  protect: optionalString,
  automatic: optionalString,
});

type Meta = z.infer<typeof metaSchema>;

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

export function parseMeta(
  execution: string,
  fields: Record<string, string>,
): { record: ExecutionRecord; meta: Meta } {
  const parsed = metaSchema.safeParse(fields);
  if (!parsed.success) {
    throw new DrError(
      'EXECUTION_CORRUPT',
      `execution ${execution}: its stored record is unreadable (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`,
    );
  }
  const m = parsed.data;
  const record: ExecutionRecord = {
    id: m.id,
    type: m.type,
    direction: m.direction,
    planName: m.planName,
    hash: m.hash,
    by: m.by,
    reason: m.reason,
    epoch: m.epoch,
    createdAt: m.createdAt,
    status: m.status,
    stepsTotal: m.total,
    stepsDone: m.done,
  };
  if (m.recoveryPoint) record.recoveryPoint = JSON.parse(m.recoveryPoint) as RecoveryPointChoice;
  if (m.parent) record.parent = m.parent;
  if (m.cleanup) record.cleanup = m.cleanup;
  if (m.deadlineAt !== undefined) record.deadline = iso(m.deadlineAt);
  if (m.startedAt !== undefined) record.startedAt = iso(m.startedAt);
  if (m.finishedAt !== undefined) record.finishedAt = iso(m.finishedAt);
  if (m.rtoMs !== undefined) record.rtoMs = m.rtoMs;
  if (m.lastReadyAt !== undefined) record.readyAt = iso(m.lastReadyAt);
  if (m.durationMs !== undefined) record.durationMs = m.durationMs;
  if (m.runMs !== undefined) record.runMs = m.runMs;
  if (m.estimateMs !== undefined) record.estimateMs = m.estimateMs;
  if (m.owner) record.owner = m.owner;
  if (m.approveManual === '1') record.approveManual = true;
  if (m.thenReprotect === '1') {
    record.thenReprotect = true;
    const current = m.lifecycle ? (JSON.parse(m.lifecycle) as { current?: string }).current : undefined;
    record.phase = failbackPhase(m.id, m.status, current);
  }
  if (m.protect) record.protect = parseProtect(execution, m.protect);
  if (m.error) record.error = m.error;
  if (m.dataLoss) record.dataLoss = parseDataLoss(execution, m.dataLoss);
  if (m.recoveryPointGap)
    record.recoveryPointGap = JSON.parse(m.recoveryPointGap) as ExecutionRecord['recoveryPointGap'];
  if (m.automatic) record.automatic = automaticEvidenceSchema.parse(JSON.parse(m.automatic));
  return { record, meta: m };
}

function parseProtect(execution: string, json: string): ProtectInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    raw = undefined;
  }
  const parsed = protectInfoSchema.safeParse(raw);
  if (!parsed.success)
    throw new DrError('EXECUTION_CORRUPT', `execution ${execution}: its protect record is unreadable`);
  return parsed.data;
}

/**
 * The stored claims; an entry of an older shape (write counts from the simulator's ledger, before
 * claims) is left out rather than shown as a claim it is not.
 */
function parseDataLoss(execution: string, json: string): DataLossEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new DrError('EXECUTION_CORRUPT', `execution ${execution}: its data-loss record is not JSON`);
  }
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((entry) => {
    const parsed = dataLossClaimSchema.safeParse(entry);
    return parsed.success ? [parsed.data] : [];
  });
}

/** Read an execution; throws EXECUTION_NOT_FOUND (exit code 2) when there is none. */
export async function loadExecution(
  redis: Redis,
  prefix: string,
  execution: string,
): Promise<{ record: ExecutionRecord; meta: Meta; fields: Record<string, string> }> {
  const fields = await redis.hgetall(executionKeys(prefix, execution).meta);
  if (!fields.id) {
    throw new DrError(
      'EXECUTION_NOT_FOUND',
      `no execution "${execution}" in this Redis; list them with \`drctl status\``,
      {
        exitCode: 2,
      },
    );
  }
  return { ...parseMeta(execution, fields), fields };
}

/** The plan snapshot an execution runs (never the plan file). */
export async function loadPlanSnapshot(
  redis: Redis,
  prefix: string,
  execution: string,
): Promise<RecoveryPlan> {
  const json = await redis.get(executionKeys(prefix, execution).plan);
  if (!json) {
    throw new DrError('EXECUTION_CORRUPT', `execution ${execution}: its plan snapshot is missing from Redis`);
  }
  return JSON.parse(json) as RecoveryPlan;
}
