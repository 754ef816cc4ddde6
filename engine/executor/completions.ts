/**
 * How a step job's result reaches the orchestrator fast: the site worker appends it to the
 * execution's completions stream (`<prefix>:{exec:<id>}:completions`) as the last thing its
 * processor does, before it returns the same StepJobResult to BullMQ. The orchestrator reads the
 * stream from the cursor it stores with the execution; BullMQ's job state stays the durable truth
 * that the orchestrator reconciles against on resume and on a periodic sweep (reconcile.ts).
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { DrError } from '../common/index.ts';
import { dataLossClaimSchema, type StepJobResult } from '../contract/index.ts';
import { executionKeys } from './keys.ts';

const stepResultSchema = z.object({
  id: z.string(),
  outcome: z.enum(['done', 'failed', 'warned', 'skipped']),
  startedAt: z.string(),
  endedAt: z.string(),
  error: z.object({ code: z.string(), message: z.string(), retryable: z.boolean() }).optional(),
  output: z.record(z.string(), z.unknown()).optional(),
});

export const stepJobResultSchema = z.object({
  v: z.literal(1),
  steps: z.array(stepResultSchema),
  recoveryPoint: z.object({ id: z.string(), time: z.string() }).optional(),
  dataLoss: dataLossClaimSchema.optional(),
  alreadyDone: z.boolean().optional(),
  claimed: z.array(z.array(z.string())).optional(),
});

const OUTCOMES: ReadonlySet<unknown> = new Set(['done', 'failed', 'warned', 'skipped']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The schema's checks written out, for the orchestrator's hot path (one per completion; zod costs
 * several times more). Anything it does not accept goes through the schema for the error.
 */
function isStepJobResult(value: unknown): value is StepJobResult {
  if (!isObject(value) || value.v !== 1 || !Array.isArray(value.steps)) return false;
  for (const step of value.steps as unknown[]) {
    if (!isObject(step) || typeof step.id !== 'string' || !OUTCOMES.has(step.outcome)) return false;
    if (typeof step.startedAt !== 'string' || typeof step.endedAt !== 'string') return false;
    const error = step.error;
    if (
      error !== undefined &&
      !(
        isObject(error) &&
        typeof error.code === 'string' &&
        typeof error.message === 'string' &&
        typeof error.retryable === 'boolean'
      )
    ) {
      return false;
    }
    if (step.output !== undefined && !isObject(step.output)) return false;
  }
  const point = value.recoveryPoint;
  if (
    point !== undefined &&
    !(isObject(point) && typeof point.id === 'string' && typeof point.time === 'string')
  ) {
    return false;
  }
  // Rare (one per failover) and nested: the schema checks it.
  if (value.dataLoss !== undefined && !dataLossClaimSchema.safeParse(value.dataLoss).success) return false;
  if (value.alreadyDone !== undefined && typeof value.alreadyDone !== 'boolean') return false;
  return (
    value.claimed === undefined ||
    (Array.isArray(value.claimed) &&
      value.claimed.every((unit) => Array.isArray(unit) && unit.every((id) => typeof id === 'string')))
  );
}

/** Parse a job's return value (from the stream or BullMQ), rejecting anything malformed. */
export function parseStepJobResult(value: unknown, where: string): StepJobResult {
  if (isStepJobResult(value)) return value;
  const parsed = stepJobResultSchema.safeParse(value);
  if (!parsed.success) {
    throw new DrError(
      'STEP_RESULT_MALFORMED',
      `${where}: the step job's result does not match StepJobResult v1 (${parsed.error.issues[0]?.message ?? 'invalid'})`,
    );
  }
  return parsed.data as StepJobResult;
}

/** A completion read from the stream. */
export interface Completion {
  /** Stream id: the cursor the orchestrator stores once the completion is recorded. */
  id: string;
  jobId: string;
  result: StepJobResult;
}

/**
 * Called by a site worker's processor with the result it is about to return. Written before BullMQ
 * marks the job completed, so a completed job always has its completion in the stream (a job run
 * twice writes twice; recording is idempotent).
 */
export async function publishJobResult(
  redis: Redis,
  prefix: string,
  execution: string,
  jobId: string,
  result: StepJobResult,
): Promise<void> {
  await redis.xadd(
    executionKeys(prefix, execution).completions,
    '*',
    'j',
    jobId,
    'r',
    JSON.stringify(result),
  );
}

/** Read completions after `after` (a stream id), blocking up to blockMs when given. */
export async function readCompletions(
  redis: Redis,
  prefix: string,
  execution: string,
  after: string,
  options: { count?: number; blockMs?: number } = {},
): Promise<Completion[]> {
  const key = executionKeys(prefix, execution).completions;
  const count = options.count ?? 5000;
  let entries: [string, string[]][];
  if (options.blockMs !== undefined) {
    const reply = await redis.xread('COUNT', count, 'BLOCK', options.blockMs, 'STREAMS', key, after);
    entries = reply?.[0]?.[1] ?? [];
  } else {
    entries = await redis.xrange(key, `(${after}`, '+', 'COUNT', count);
  }
  return entries.map(([id, fields]) => {
    const jobId = fields[fields.indexOf('j') + 1] ?? '';
    const raw = fields[fields.indexOf('r') + 1] ?? 'null';
    const value: unknown = JSON.parse(raw);
    // Follow units the worker claimed with this result (events.ts): a field of the entry.
    const claimed = fields.indexOf('c');
    if (claimed >= 0 && claimed % 2 === 0 && isObject(value))
      value.claimed = JSON.parse(fields[claimed + 1] ?? '[]');
    return { id, jobId, result: parseStepJobResult(value, `completion ${id} of ${execution}`) };
  });
}
