/**
 * An operator's decisions about one step of a running execution: retry, skip or done a paused
 * step, approve a manual action. Recorded with who and why in the execution's log and applied by
 * the orchestrator that drives it (engine/executor store/operator.ts), as `drctl step` does.
 */
import { z } from 'zod';
import { giveOperatorCommand } from '../../executor/index.ts';
import { compilePlan } from '../../plan/index.ts';
import { actorOf } from '../auth/index.ts';
import type { ControlApp, ControlContext } from '../context.ts';
import { ProblemSchema } from '../problem.ts';

export const OperatorReceiptSchema = z
  .object({
    execution: z.string(),
    step: z.string(),
    command: z.enum(['approve', 'retry', 'skip', 'done']),
    by: z.string(),
    reason: z.string(),
    givenAt: z.string(),
    attempt: z.number().int().describe('the attempt the command is about'),
    applied: z.boolean().describe('the orchestrator applied it within the wait; false: it is queued'),
    accepted: z.boolean().optional().describe('false: the orchestrator refused it (see detail)'),
    detail: z.string().optional(),
  })
  .meta({ id: 'OperatorReceipt' });

const COMMANDS = [
  ['retry', 'Run a paused step again now (a new attempt); its dependents wait for it'],
  ['skip', 'Mark a paused step skipped: its dependents go on as if it had succeeded'],
  ['done', 'Record that a paused step was done by hand: its dependents go on'],
  ['approve', 'Approve a manual action the execution waits on (the reason is the comment)'],
] as const;

export function registerOperatorRoutes(app: ControlApp, ctx: ControlContext): void {
  for (const [command, summary] of COMMANDS) {
    app.post(
      `/executions/:id/steps/:step/${command}`,
      {
        schema: {
          summary,
          tags: ['operator'],
          params: z.object({
            id: z.string().min(1).max(200),
            step: z
              .string()
              .min(1)
              .max(500)
              .describe('a step id (`sql-01/readiness`, URL-encoded) or an action name'),
          }),
          body: z.strictObject({
            reason: z
              .string()
              .max(2000)
              .describe(command === 'approve' ? 'what was checked or done' : 'why (kept in the event log)'),
            waitMs: z
              .number()
              .int()
              .min(0)
              .max(60_000)
              .default(10_000)
              .describe('how long to wait for the orchestrator to apply it'),
          }),
          response: {
            200: OperatorReceiptSchema,
            400: ProblemSchema,
            404: ProblemSchema,
            409: ProblemSchema,
          },
        },
      },
      async (request) =>
        giveOperatorCommand(ctx.redis, ctx.prefix, {
          execution: request.params.id,
          command,
          step: request.params.step,
          by: actorOf(request),
          reason: request.body.reason,
          waitMs: request.body.waitMs,
          ...(command === 'approve' ? {} : { compile: compilePlan }),
        }),
    );
  }
}
