/**
 * Queue conventions shared by the orchestrator (producer) and the site workers (consumers):
 * connections, BullMQ's prefix, and the options of a step job.
 */
import type { JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { queuePrefix } from './keys.ts';

/** Options of createQueueConnection. */
export interface QueueConnectionOptions {
  /**
   * Name shown by CLIENT LIST, to tell the engine's processes apart.
   * @defaultValue 'drorch'
   */
  name?: string;
  /**
   * Connect only on the first command.
   * @defaultValue false
   */
  lazyConnect?: boolean;
}

/**
 * An ioredis connection for queues, workers and the engine's own keys. `maxRetriesPerRequest: null`
 * (required by BullMQ workers, and right for the engine): a command waits through a Redis restart
 * instead of failing the execution, and the reconnect strategy backs off up to 1 s.
 */
export function createQueueConnection(url: string, options: QueueConnectionOptions = {}): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    lazyConnect: options.lazyConnect ?? false,
    connectionName: options.name ?? 'drorch',
    retryStrategy: (times) => Math.min(50 * times, 1000),
  });
  // Connection errors are retried by ioredis; an unhandled 'error' event would crash the process.
  redis.on('error', () => {});
  return redis;
}

/** BullMQ's options for every queue and worker of the engine under `prefix`. */
export function bullOptions(prefix: string): { prefix: string } {
  return { prefix: queuePrefix(prefix) };
}

/** How long finished jobs are kept: resume reads their state and return value. @defaultValue 7 days */
export const FINISHED_JOB_RETENTION_S = 7 * 24 * 3600;

/**
 * The options of a step job. BullMQ does not retry a failed job (attempts: 1): retries follow the
 * plan's failure policy and are new jobs (`stepJobId(..., attempt)`), decided by the orchestrator.
 * A job whose worker died is picked up again by BullMQ's stalled-job check.
 */
export function stepJobOptions(jobId: string): JobsOptions {
  return {
    jobId,
    attempts: 1,
    removeOnComplete: { age: FINISHED_JOB_RETENTION_S },
    removeOnFail: { age: FINISHED_JOB_RETENTION_S },
  };
}
