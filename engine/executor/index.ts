/** The executor's public door: what other folders (CLI, workers, tests, benches) may import. */

export {
  AUTOMATIC_START_ACTIONS,
  type AutomaticStartActionName,
  CONTROL_QUEUE,
  type EngineEvent,
  type EngineOnlyEvent,
  EVENT_SCHEMA_VERSION,
  EXECUTION_STATUSES,
  type ExecutionEvent,
  type ExecutionStatus,
  type ExecutionType,
  isLifecycleType,
  type StepJobData,
  type StepJobResult,
  type StepOutcome,
  type StepResult,
  siteQueueName,
  stepJobId,
  type VmPhase,
  type VmRecoveryPointInfo,
} from '../contract/index.ts';
export {
  decodeStepState,
  encodeStepState,
  isFinal as isFinalStatus,
  type PlannedJob,
  StepGraph,
  type StepState,
  type StepStatus,
} from '../schedule/index.ts';
export {
  CATALOG_TTL_MS,
  readServedCatalogs,
  renewCatalogAnnouncement,
  type ServedCatalog,
  writeCatalogAnnouncement,
} from './catalog-announce.ts';
export { type Completion, parseStepJobResult, publishJobResult, readCompletions } from './completions.ts';
export {
  discardText,
  divergenceLine,
  divergencesOf,
  ranFor,
  standingDivergences,
  type VmDivergence,
} from './divergence.ts';
export {
  appendEvent,
  appendEvents,
  appendEventTo,
  createStreamWriter,
  type FollowClaim,
  parseEventEntry,
  type ReadEventsOptions,
  readAllEvents,
  readEvents,
  type StoredEvent,
  type StreamWriter,
} from './events.ts';
export { scanCatalog } from './handlers/catalog.ts';
export {
  type FenceSweep,
  redisSweepVault,
  type SweepRecord,
  type SweepVault,
  startFenceSweep,
} from './handlers/fence-sweep.ts';
export {
  type ActionMemo,
  type ActionRunMark,
  type EventSink,
  type HandlerOptions,
  parseStepJobData,
  redisActionMemo,
  resolveHandlerOptions,
  runStepJob,
  StepError,
  type StepJobRun,
} from './handlers/index.ts';
export {
  bullJobKey,
  DEFAULT_PREFIX,
  type ExecutionKeys,
  executionKeys,
  type GlobalKeys,
  globalKeys,
  queuePrefix,
} from './keys.ts';
export { cleanupStepId } from './orchestrator/cleanup-steps.ts';
export { CRASH_POINTS, type CrashPoint } from './orchestrator/crash-points.ts';
export {
  type Orchestrator,
  type OrchestratorOptions,
  startOrchestrator,
} from './orchestrator/orchestrator.ts';
export { protectStepId } from './orchestrator/protect-steps.ts';
export type { CompileFn, DecisionSink, EngineDecision, ExecutionNotice } from './orchestrator/runner-deps.ts';
export {
  bullOptions,
  createQueueConnection,
  FINISHED_JOB_RETENTION_S,
  type QueueConnectionOptions,
  stepJobOptions,
} from './queues.ts';
export { approveAction, approveStep } from './store/approve.ts';
export { type CleanupRequest, cleanupIdOf, submitCleanup } from './store/cleanup.ts';
export {
  acknowledgeDivergence,
  type DiscardDiverged,
  divergenceGate,
  recordRunningOldPrimaries,
  standingDivergencesOf,
} from './store/divergence-gate.ts';
export {
  type DataLossEntry,
  type ExecutionRecord,
  loadExecution,
  loadPlanSnapshot,
  type ProtectInfo,
} from './store/execution-record.ts';
export { type FailbackPhase, failbackPhase, failbackPhaseLine } from './store/failback-phase.ts';
export {
  type LifecycleInfo,
  type LifecycleRequest,
  type LifecycleRunInfo,
  type LifecycleSubmitted,
  latestFailoverOf,
  pointOfNoReturn,
  readLifecycle,
  readLifecycleRun,
  submitCancel,
  submitChangePoint,
  submitCommit,
  submitReprotect,
} from './store/lifecycle.ts';
export {
  type AwaitedApproval,
  describeApprovals,
  describePaused,
  giveOperatorCommand,
  type OperatorReceipt,
  type OperatorRequest,
  type PausedStep,
  pausedStepIds,
} from './store/operator.ts';
export {
  type ProtectPlacement,
  type ProtectRequest,
  type ProtectSubmitted,
  placePrimaries,
  submitProtect,
} from './store/protect.ts';
export { type ProtectRow, protectRows } from './store/protect-rows.ts';
export { type SubmitRequest, submitExecution } from './store/submit.ts';
export type { UnitRun, UnitRunner, UnitSinks } from './unit-runner.ts';
export {
  lazyChild,
  lockRenewMs,
  type SiteWorkerOptions,
  type SiteWorkers,
  STALL_DEFAULTS,
  startSiteWorkers,
} from './worker.ts';
