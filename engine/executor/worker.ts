import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { HyperVApi } from '../../simulators/api.ts';
import { createLogger, type Logger } from '../common/index.ts';
import { publishJobResult } from './completions.ts';
import {
  CONTROL_QUEUE,
  type ExecutionEvent,
  type StepJobResult,
  type StepResult,
  siteQueueName,
} from './contract.ts';
import { appendEvents } from './events.ts';
import {
  type ActionMemo,
  type EventSink,
  type HandlerOptions,
  parseStepJobData,
  resolveHandlerOptions,
  runStepJob,
} from './handlers/index.ts';
import { DEFAULT_PREFIX, executionKeys } from './keys.ts';
import { bullOptions, createQueueConnection } from './queues.ts';

/** Options of startSiteWorkers. */
export interface SiteWorkerOptions {
  /** Redis of the engine (the orchestrator's). */
  redisUrl: string;
  /**
   * Key prefix shared with the orchestrator.
   * @defaultValue 'dr'
   */
  prefix?: string;
  /** The site whose queue (`site.<site>`) this process serves; `control` serves the control queue. */
  site: string;
  /** The site's Hyper-V management API (in-process world, or `createSimClient(url)`). */
  api: HyperVApi;
  /**
   * Jobs run at once. Handlers mostly wait on host calls, so this is high.
   * @defaultValue 200
   */
  concurrency?: number;
  /**
   * How long a job's lock lasts without renewal: a worker that dies loses its jobs after this.
   * @defaultValue 30_000
   */
  lockDurationMs?: number;
  /**
   * How often stalled jobs (lock lost) are looked for and handed to another worker.
   * @defaultValue 30_000
   */
  stalledIntervalMs?: number;
  /**
   * Times a job may stall (its worker died) before it fails for good.
   * @defaultValue 3
   */
  maxStalledCount?: number;
  /** Handler tunables (script catalog, boot-slot waits, probe intervals). */
  handlers?: HandlerOptions;
  /** @defaultValue a pino logger named `worker` */
  logger?: Logger;
}

export interface SiteWorkers {
  readonly queue: string;
  readonly worker: Worker<unknown, StepJobResult>;
  /** Resolves once the worker is connected and taking jobs. */
  ready(): Promise<void>;
  /**
   * Stop taking jobs and let running ones finish; after `timeoutMs` the running ones are aborted
   * (their locks lapse and another worker takes them over) and the connections close.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** Where a worker keeps the results of action steps it ran (see ActionMemo). */
function actionsKey(prefix: string, execution: string): string {
  return executionKeys(prefix, execution).meta.replace(/:meta$/, ':actions');
}

function redisMemo(redis: Redis, prefix: string, execution: string): ActionMemo {
  const key = actionsKey(prefix, execution);
  return {
    get: async (jobId, step) => {
      const raw = await redis.hget(key, `${jobId}|${step}`);
      if (raw === null) return undefined;
      const value: unknown = JSON.parse(raw);
      return typeof value === 'object' && value !== null && 'outcome' in value
        ? (value as StepResult)
        : undefined;
    },
    set: async (jobId, step, result) => {
      await redis.hset(key, `${jobId}|${step}`, JSON.stringify(result));
    },
  };
}

/**
 * Start the BullMQ worker of one site's queue. Each job is checked against StepJobData v1, run by
 * the handlers (which read the host before every mutating call), its result appended to the
 * execution's completions stream and then returned. A stale epoch fails the job as unrecoverable.
 */
export function startSiteWorkers(options: SiteWorkerOptions): SiteWorkers {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const queue = options.site === 'control' ? CONTROL_QUEUE : siteQueueName(options.site);
  const log = (options.logger ?? createLogger('worker')).child({ site: options.site, queue });
  const handlerOptions = resolveHandlerOptions(options.handlers);
  const redis = createQueueConnection(options.redisUrl, { name: `drorch-worker-${options.site}` });
  const workerConnection = createQueueConnection(options.redisUrl, {
    name: `drorch-worker-${options.site}-bull`,
  });
  const shutdown = new AbortController();
  const events = (): EventSink => ({
    append: async (batch: readonly ExecutionEvent[]) => await appendEvents(redis, prefix, batch),
  });

  const process = async (
    job: Job<unknown, StepJobResult>,
    _token?: string,
    cancel?: AbortSignal,
  ): Promise<StepJobResult> => {
    const jobId = job.id ?? '';
    const data = parseStepJobData(job.data, jobId);
    const jobLog = log.child({ execution: data.execution, job: jobId, vm: data.vm, attempt: data.attempt });
    const signal = cancel ? AbortSignal.any([cancel, shutdown.signal]) : shutdown.signal;
    const run = await runStepJob(jobId, data, {
      api: options.api,
      log: jobLog,
      events: events(),
      memo: redisMemo(redis, prefix, data.execution),
      options: handlerOptions,
      signal,
    });
    await publishJobResult(redis, prefix, data.execution, jobId, run.result);
    if (run.unrecoverable) {
      throw new UnrecoverableError(`${run.unrecoverable.code}: ${run.unrecoverable.message}`);
    }
    return run.result;
  };

  const worker = new Worker<unknown, StepJobResult>(queue, process, {
    connection: workerConnection,
    ...bullOptions(prefix),
    concurrency: options.concurrency ?? 200,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: options.maxStalledCount ?? 3,
  });
  worker.on('error', (error) => log.error({ err: error }, 'worker error'));
  worker.on('failed', (job, error) => log.warn({ job: job?.id, err: error.message }, 'job failed'));
  worker.on('stalled', (jobId) => log.warn({ job: jobId }, 'job stalled; handed to another worker'));

  let closing: Promise<void> | undefined;
  return {
    queue,
    worker,
    ready: async () => {
      await worker.waitUntilReady();
    },
    close: (timeoutMs = 10_000) => {
      closing ??= (async () => {
        const graceful = worker.close();
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          graceful.then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), timeoutMs);
          }),
        ]);
        clearTimeout(timer);
        if (timedOut) {
          log.warn(
            { timeoutMs },
            'jobs still running at shutdown; aborting them (another worker takes them over)',
          );
          shutdown.abort(new Error('worker shutting down'));
          await worker.close(true);
        }
        redis.disconnect();
        workerConnection.disconnect();
      })();
      return closing;
    },
  };
}
