import { assertNever } from '../../common/index.ts';
import { requireAction } from './action-context.ts';
import type { HandlerContext, HandlerOutcome } from './context.ts';
import { StepError } from './errors.ts';
import { scriptAction } from './script.ts';
import { webhookAction } from './webhook.ts';

/**
 * An action step: a catalog script or a webhook. Manual actions wait for an operator, which the
 * orchestrator does (it pauses the execution); a worker that receives one refuses it clearly.
 */
export async function actionHandler(ctx: HandlerContext): Promise<HandlerOutcome> {
  const action = requireAction(ctx);
  const run = action.run;
  switch (run.type) {
    case 'script':
      return await scriptAction(ctx, action, run.script);
    case 'webhook':
      return await webhookAction(ctx, action, run);
    case 'manual':
      throw new StepError(
        'MANUAL_ACTION_NOT_FOR_WORKERS',
        `${ctx.step}: manual action "${action.name}" needs an operator's approval, which the orchestrator handles; it must not be queued to a worker`,
        { step: ctx.step, site: ctx.job.site },
      );
    default:
      return assertNever(run, 'action run');
  }
}
