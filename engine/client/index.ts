/** The execution client: the public door of engine/client. */

export { createHttpLifecycleClient } from './http-lifecycle.ts';
export {
  type ApiRequester,
  type ApiRequestOptions,
  createApiRequester,
  DEFAULT_SERVER,
  problemError,
  serverUrlFrom,
  unreachable,
} from './http-request.ts';
export {
  cancelFailover,
  changeRecoveryPoint,
  commitFailover,
  type FailbackAsk,
  type FailbackSubmitted,
  type FailoverTarget,
  failBack,
  type LifecycleAsk,
  type LifecycleDeps,
  type LifecycleState,
  type OldPrimaryReader,
  oldPrimariesFromInventory,
  type ReprotectAsk,
  type ReprotectSubmitted,
  type ResyncRow,
  readLifecycleState,
  reprotectFailover,
} from './lifecycle.ts';
export {
  createRedisLifecycleClient,
  type LifecycleClient,
  type RedisLifecycleOptions,
  type StepAsk,
} from './lifecycle-client.ts';
export { createHttpLocksClient, createRedisLocksClient, type LocksClient } from './locks-client.ts';
export { measureRecoveryPointGap, pickRecoveryPoint, type RecoveryPointGap } from './recovery-point-gap.ts';
export { createRedisExecutionClient, type RedisClientOptions } from './redis-client.ts';
export type {
  EventsOptions,
  ExecutionClient,
  ExecutionView,
  SubmitOptions,
  SubmitResult,
} from './types.ts';
