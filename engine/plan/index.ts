/**
 * engine/plan: recovery plans as YAML → validated, normalized RecoveryPlan → compiled step graph.
 * Pure code apart from loadPlanFile. This file is the folder's public door; import nothing else.
 */

// The plan language's durations are the product's one grammar (engine/common/duration.ts).
export { DURATION_HINT, formatDuration, parseDuration, tryParseDuration } from '../common/index.ts';
export type { CheckOptions } from './checks.ts';
export { type CompiledPlan, type CompileOptions, compilePlan } from './compile.ts';
export {
  ALL_FAILOVER_TYPES,
  DEFAULT_ACTION_TIMEOUT_MS,
  DEFAULT_AUTOMATIC_FAILOVER_AFTER_MS,
  DEFAULT_BOOT_ESTIMATE_MS,
  DEFAULT_DRILL_MAX_MS,
  DEFAULT_FAILURE_POLICY,
  DEFAULT_FENCE_DEADLINE_MS,
  DEFAULT_READINESS,
  SITE_LEASE_MS,
} from './defaults.ts';
export { formatIssue, PlanError, sortIssues } from './errors.ts';
export { FAILOVER_STEP_MS, SCRIPT_ESTIMATE_MS, SHUTDOWN_STEP_MS, WEBHOOK_ESTIMATE_MS } from './estimate.ts';
export { type GenerateOptions, generatePlan } from './generate.ts';
export { canonicalPlanJson, planHash } from './hash.ts';
export { planJsonSchema, planJsonSchemaText } from './json-schema.ts';
export {
  loadPlanFile,
  type ParseOptions,
  type ParseStage,
  type PlanResult,
  parsePlan,
  parsePlanWithStage,
} from './parse.ts';
export { createPathLocator, type PathLocator, type Position } from './positions.ts';
export { type RenderFormat, renderGraph } from './render.ts';
export { NAME_PATTERN, type PlanInput, planSchema } from './schema.ts';
export { closest, didYouMean } from './suggest.ts';
export type {
  ActionRun,
  Direction,
  DurationMs,
  FailoverType,
  FailureOutcome,
  FailurePolicy,
  NetworkBinding,
  PlanAction,
  PlanGroup,
  PlanIssue,
  PlanStep,
  PlanVm,
  Readiness,
  ReadinessCheck,
  RecoveryPlan,
  RecoveryPointChoice,
  StepKind,
} from './types.ts';
