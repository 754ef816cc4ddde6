import type { ActionRun, PlanAction } from '../../plan/types.ts';
import { actionExecutionContext, tail } from './action-context.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError } from './errors.ts';

/**
 * A webhook action: POST the execution context as JSON to the action's URL, with its headers and
 * an `Idempotency-Key` stable across repeats of the job (so a receiver can ignore a repeat), within
 * the action's timeout. A 2xx answer is done; anything else fails the step with the status and the
 * answer's beginning (429 and 5xx are marked retryable).
 */
export async function webhookAction(
  ctx: HandlerContext,
  action: PlanAction,
  run: Extract<ActionRun, { type: 'webhook' }>,
  vms?: readonly string[],
  attempt?: number,
): Promise<HandlerOutcome> {
  const where = { step: ctx.step, site: ctx.job.site };
  const body = JSON.stringify(actionExecutionContext(ctx, action, run, vms, attempt));
  const timeout = AbortSignal.timeout(action.timeoutMs);
  const started = Date.now();
  let response: Response;
  try {
    response = await fetch(run.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'drorch-worker/1',
        'idempotency-key': `${ctx.jobId}/${ctx.step}`,
        ...run.headers,
      },
      body,
      signal: AbortSignal.any([timeout, ctx.signal]),
    });
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    if (timeout.aborted) {
      throw new StepError(
        'WEBHOOK_TIMEOUT',
        `${ctx.step}: webhook ${run.url} did not answer within ${action.timeoutMs} ms`,
        where,
        { retryable: true, cause: error },
      );
    }
    const reason =
      error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    throw new StepError(
      'WEBHOOK_UNREACHABLE',
      `${ctx.step}: webhook ${run.url} unreachable: ${reason}`,
      where,
      {
        retryable: true,
        cause: error,
      },
    );
  }
  const text = await response.text().catch(() => '');
  const answer = tail(text, ctx.options.outputLimitBytes);
  const output: Record<string, unknown> = {
    url: run.url,
    status: response.status,
    durationMs: Date.now() - started,
    body: answer.text,
    truncated: answer.truncated,
  };
  if (!response.ok) {
    throw new StepError(
      'WEBHOOK_FAILED',
      `${ctx.step}: webhook ${run.url} answered ${response.status} ${response.statusText}`,
      where,
      { retryable: response.status === 429 || response.status >= 500, output },
    );
  }
  return { outcome: 'done', mutated: true, output };
}
