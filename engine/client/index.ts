/** The execution client: the public door of engine/client. */

export {
  createHttpExecutionClient,
  type HttpClientOptions,
  type HttpExecutionClient,
} from './http-client.ts';
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
  type OldPrimaryReader,
  oldPrimariesFromInventory,
  type ReprotectAsk,
  type ReprotectSubmitted,
  reprotectFailover,
} from './lifecycle.ts';
export {
  createRedisLifecycleClient,
  type LifecycleClient,
  type RedisLifecycleOptions,
  type StepAsk,
} from './lifecycle-client.ts';
export { type LifecycleState, type ResyncRow, readLifecycleState } from './lifecycle-state.ts';
export { createHttpLocksClient, createRedisLocksClient, type LocksClient } from './locks-client.ts';
export { createNodeApiRequester } from './node-request.ts';
export { measureRecoveryPointGap, pickRecoveryPoint, type RecoveryPointGap } from './recovery-point-gap.ts';
export { createRedisExecutionClient, type RedisClientOptions } from './redis-client.ts';
export { readSse, type SseMessage } from './sse.ts';
export { caFileFor, dispatcherFor, readCaFile, withTrust } from './tls.ts';
export { bearerHeader, tokenFor, upSaved, upTokenFiles, writeUpToken } from './token.ts';
export type {
  EventsOptions,
  ExecutionClient,
  ExecutionView,
  PreflightOptions,
  SubmitOptions,
  SubmitResult,
} from './types.ts';
export { whoAmI } from './who-am-i.ts';
