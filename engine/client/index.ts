/** The execution client: the public door of engine/client. */
export {
  createHttpExecutionClient,
  type HttpClientOptions,
  type HttpExecutionClient,
} from './http-client.ts';
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
export { readSse, type SseMessage } from './sse.ts';
export type {
  EventsOptions,
  ExecutionClient,
  ExecutionView,
  PreflightOptions,
  SubmitOptions,
  SubmitResult,
} from './types.ts';
export { whoAmI } from './who-am-i.ts';
