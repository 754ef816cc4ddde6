export {
  acquireRedis,
  freePort,
  NO_REDIS_MESSAGE,
  type PrivateRedis,
  type PrivateRedisOptions,
  RedisUnavailableError,
  redisServerAvailable,
  startPrivateRedis,
} from './private-server.ts';
export { checkRedisUrl, describeRedisFailure, redactRedisUrl } from './probe.ts';
