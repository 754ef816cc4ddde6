/** The step handlers' public door: what the worker (and tests) may use. */
export { type ActionMemo, type ActionRunMark, actionHandler, isUndoStep, runActionStep } from './action.ts';
export { type ActionExecutionContext, actionExecutionContext } from './action-context.ts';
export { actionMemoKey, memoryActionMemo, redisActionMemo } from './action-memo.ts';
export { bootHandler } from './boot.ts';
export { cleanupHandler } from './cleanup.ts';
export {
  type HandlerContext,
  type HandlerOptions,
  type HandlerOutcome,
  type ResolvedHandlerOptions,
  resolveHandlerOptions,
  type StepHandler,
} from './context.ts';
export {
  type EventSink,
  type RunStepJobDeps,
  runStepJob,
  type StepJobRun,
} from './dispatch.ts';
export { StepError, simErrorCode, toStepError } from './errors.ts';
export { failoverHandler } from './failover.ts';
export { parseStepJobData, stepJobDataSchema } from './job-schema.ts';
export { isPrimary, protectHandler } from './protect.ts';
export { readinessHandler } from './readiness.ts';
export { scriptEnvironment } from './script.ts';
export { shutdownHandler } from './shutdown.ts';
export { testVmName } from './vm.ts';
export { webhookAction } from './webhook.ts';
