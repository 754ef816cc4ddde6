/** The simulated Hyper-V world: the public door of simulators/. */
export type {
  GuestHeartbeat,
  HostView,
  HyperVApi,
  NetworkAttachment,
  NetworkView,
  PowerState,
  RecoveryPoint,
  RecoveryPointSelector,
  ReplicationHealth,
  ReplicationMeasure,
  ReplicationMode,
  ReplicationState,
  SimErrorCode,
  VmReplicationView,
  VmView,
} from './api.ts';
export type { ClockMode, ClockOptions } from './clock.ts';
export type { SimControl } from './control.ts';
export { createWorld, type World } from './create-world.ts';
export { isSimErrorCode, SimError } from './errors.ts';
export { FOR_PLAN_WARMUP_MS, type ForPlanOptions, worldForPlan, worldSpecForPlan } from './for-plan.ts';
export { createSimClient, type SimClient, type SimClientOptions } from './http-client.ts';
export { type SimServer, type SimServerOptions, startSimServer } from './http-server.ts';
export type {
  AutomaticStartAction,
  FaultAction,
  FaultSpec,
  HostSpec,
  LinkSpec,
  RandomFaultSpec,
  ReplicationSpec,
  SiteSpec,
  VmSpec,
  WorldSpec,
} from './spec.ts';
export { formatSummary, type SiteSummary, summarizeWorld, type WorldSummary } from './status.ts';
export {
  type FailoverKind,
  type FailoverRecord,
  type LinkBytes,
  type PrimaryInterval,
  primarySitesAt,
  type SplitBrainInterval,
  type WorldTruth,
} from './truth.ts';
export type { ReplicationSeqs } from './views.ts';
export {
  formatWorldIssue,
  loadWorldFile,
  parseWorldText,
  type WorldFileIssue,
  type WorldFileResult,
} from './world-file.ts';
export { worldJsonSchema } from './world-file-schema.ts';
