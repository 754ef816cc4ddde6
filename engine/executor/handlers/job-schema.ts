import { z } from 'zod';
import { DrError } from '../../common/index.ts';
import { AUTOMATIC_START_ACTIONS, EXECUTION_TYPES, type StepJobData } from '../../contract/index.ts';

const recoveryPoint = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('latest') }),
  z.object({ kind: z.literal('latestProcessed') }),
  z.object({ kind: z.literal('latestAppConsistent') }),
  z.object({ kind: z.literal('at'), at: z.string() }),
]);

const readinessCheck = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('heartbeat') }),
  z.object({ kind: z.literal('tcp'), port: z.number() }),
  z.object({ kind: z.literal('http'), port: z.number(), path: z.string(), expectStatus: z.number() }),
  z.object({ kind: z.literal('delay'), ms: z.number() }),
]);

const actionRun = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('script'),
    script: z.string(),
    runOn: z.enum(['control', 'target']),
    args: z.record(z.string(), z.string()),
  }),
  z.object({ type: z.literal('webhook'), url: z.string(), headers: z.record(z.string(), z.string()) }),
  z.object({ type: z.literal('manual'), instruction: z.string() }),
]);

const failoverType = z.enum(['test', 'planned', 'unplanned']);
const direction = z.enum(['forward', 'failback']);
const failurePolicy = z.object({
  retries: z.number(),
  backoff: z.object({ initialMs: z.number(), factor: z.number(), maxMs: z.number() }),
  outcome: z.enum(['fail-plan', 'continue-without-dependents', 'pause']),
});

const planAction = z.object({
  name: z.string(),
  when: z.enum(['before', 'after']),
  vm: z.string().optional(),
  group: z.string().optional(),
  run: actionRun,
  timeoutMs: z.number().positive(),
  on: z.array(failoverType),
  directions: z.array(direction),
  onFailure: failurePolicy,
  undo: actionRun.optional(),
  estimateMs: z.number().optional(),
});

/** StepJobData v1, checked when a worker takes a job (a job is data from Redis, not a trusted value). */
export const stepJobDataSchema = z.object({
  v: z.literal(1),
  execution: z.string().min(1),
  epoch: z.number().int().nonnegative(),
  type: z.enum(EXECUTION_TYPES),
  direction,
  site: z.string().min(1),
  fromSite: z.string(),
  toSite: z.string(),
  steps: z.array(z.string()).min(1),
  plan: z.string().optional(),
  vm: z.string().optional(),
  recoveryPoint: recoveryPoint.optional(),
  fromPoint: z.object({ id: z.string(), time: z.string() }).optional(),
  network: z.object({ network: z.string(), ip: z.string().optional() }).optional(),
  readiness: z
    .object({
      checks: z.array(readinessCheck),
      timeoutMs: z.number().nonnegative(),
      onTimeout: z.enum(['fail', 'warn']),
    })
    .optional(),
  action: planAction.optional(),
  automaticStartAction: z.enum(AUTOMATIC_START_ACTIONS).optional(),
  attempt: z.number().int().positive(),
});

/** Parse a job's payload; a malformed one is a bug or a version skew, never worth a retry. */
export function parseStepJobData(value: unknown, jobId: string): StepJobData {
  const parsed = stepJobDataSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DrError(
      'BAD_JOB',
      `job ${jobId}: payload is not StepJobData v1 (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}); are the orchestrator and this worker the same version?`,
    );
  }
  const data: StepJobData = parsed.data;
  return data;
}
