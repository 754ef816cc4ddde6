/** The execution client: the public door of engine/client. */
export {
  type ApiRequester,
  type ApiRequestOptions,
  createApiRequester,
  DEFAULT_SERVER,
  problemError,
  serverUrlFrom,
  unreachable,
} from './http-request.ts';
export { measureRecoveryPointGap, pickRecoveryPoint, type RecoveryPointGap } from './recovery-point-gap.ts';
export { createRedisExecutionClient, type RedisClientOptions } from './redis-client.ts';
export type {
  EventsOptions,
  ExecutionClient,
  ExecutionView,
  SubmitOptions,
  SubmitResult,
} from './types.ts';
