import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createLogger, DrError, type Logger } from '../common/index.ts';
import {
  CONTROL_QUEUE,
  type ExecutionEvent,
  jobStepKind,
  type StepJobData,
  type StepJobResult,
  siteQueueName,
} from '../contract/index.ts';
import type { HostDriver } from '../hosts/index.ts';
import { createSightingStore } from '../locks/index.ts';
import {
  decodeStepState,
  encodeStepState,
  isFinal,
  isStepBatchData,
  type StepBatchData,
  type StepBatchResult,
  type StepBatchUnit,
  unitJobData,
  unitJobId,
} from '../schedule/index.ts';
import { startCatalogAnnouncer } from './catalog-announce.ts';
import { createStreamWriter, type FollowClaim } from './events.ts';
import { redisSweepVault, startFenceSweep } from './handlers/fence-sweep.ts';
import {
  type EventSink,
  type HandlerOptions,
  parseStepJobData,
  redisActionMemo,
  resolveHandlerOptions,
  runStepJob,
  type StepJobRun,
} from './handlers/index.ts';
import { DEFAULT_PREFIX, executionKeys } from './keys.ts';
import { bullOptions, createQueueConnection } from './queues.ts';
import type { UnitRunner } from './unit-runner.ts';

/** What a job returns: a batch's unit results, or a single StepJobData job's result. */
export type JobResult = StepJobResult | StepBatchResult;

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
  api: HostDriver;
  /**
   * Units (one VM's steps, or one action) run at once, and BullMQ jobs (batches of units) taken at
   * once. Handlers mostly wait on host calls, so this is high.
   * @defaultValue 200
   */
  concurrency?: number;
  /**
   * How long a job's lock lasts without renewal: a worker that dies loses its jobs after this.
   * Renewed every quarter of it (lockRenewMs).
   * @defaultValue STALL_DEFAULTS.lockDurationMs (4000)
   */
  lockDurationMs?: number;
  /**
   * How often stalled jobs (lock lost) are looked for and handed to another worker.
   * @defaultValue STALL_DEFAULTS.stalledIntervalMs (1000)
   */
  stalledIntervalMs?: number;
  /**
   * Times a job may stall (its worker died) before it fails for good.
   * @defaultValue STALL_DEFAULTS.maxStalledCount (3)
   */
  maxStalledCount?: number;
  /** Handler tunables (script catalog, boot-slot waits, probe intervals). */
  handlers?: HandlerOptions;
  /**
   * How often the site's hosts are looked at for one coming back, when the agent fences old
   * primaries of failovers that run again (handlers/fence-sweep.ts); 0 turns it off.
   * @defaultValue 10_000
   */
  fenceSweepMs?: number;
  /**
   * How long this worker's script-catalog announcement lives without renewal (catalog-announce.ts):
   * pre-flight checks script actions against the catalogs the site's live workers announce.
   * @defaultValue 15_000
   */
  catalogTtlMs?: number;
  /**
   * Whether this worker announces its own script catalog (catalog-announce.ts). A relay that runs
   * its units elsewhere announces nothing: the agent that runs them does (through the control plane).
   * @defaultValue true
   */
  announceCatalog?: boolean;
  /**
   * Who carries out a unit. By default the handlers here (`runStepJob` against `api`); the control
   * plane's relay hands it to the site's agent instead (engine/control/agents) and returns what the
   * agent reported. Everything Redis-side (late-fence state, events, result and follow claims,
   * sightings, action memo) stays with this worker either way.
   * @defaultValue runs the unit locally with runStepJob
   */
  runUnit?: UnitRunner;
  /** @defaultValue a pino logger named `worker` */
  logger?: Logger;
}

export interface SiteWorkers {
  readonly queue: string;
  readonly worker: Worker<unknown, JobResult>;
  /** Resolves once the worker is connected and taking jobs. */
  ready(): Promise<void>;
  /**
   * Stop taking jobs and let running ones finish. After `timeoutMs` the running ones are aborted
   * and handed back to the queue (not failed): another worker runs them again, and the handlers'
   * state checks absorb what this one already did. Then the connections close.
   * @param timeoutMs - @defaultValue 10_000
   */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * One unit of a job: its own id (handlers' job id), its key (first step) and its StepJobData; a
 * follow unit also the keys of the units of the job it waits for.
 */
interface JobUnit {
  id: string;
  key: string;
  data: StepJobData;
  after?: string[];
}

/** A batch's follow units by the key of each unit they wait for, and how a claimed step is stored. */
interface Follows {
  byParent: Map<string, JobUnit[]>;
  queuedAs: string;
  all: JobUnit[];
}

/** A unit that ended well releases its follow units: every step ran, none failed. */
function endedWell(run: StepJobRun, data: StepJobData): boolean {
  return (
    run.unrecoverable === undefined &&
    run.result.steps.length === data.steps.length &&
    run.result.steps.every((step) => step.outcome !== 'failed')
  );
}

/**
 * How soon a dead worker's jobs run again. The worker renews the locks of its running jobs every
 * lockDuration/4 at the latest (BullMQ's lockRenewTime, its timer looking every lockDuration/8), so
 * a live worker loses a lock only when its event loop is blocked for more than 3/4 of lockDuration
 * (3 s); a dead worker's locks lapse at most lockDuration after its death, and the next stalled-job
 * check (any worker of the queue, every stalledInterval) moves the job back to wait: death to
 * running again is at most lockDuration + stalledInterval = 5 s. bench/worker-death.ts measures it,
 * and the event-loop delay of workers under a 10,000-VM failover against that margin
 * (BENCHMARKS.md: at most 1.7 s on a 2-core machine at load average 23). The cost is one
 * lock-renewal script per worker with running jobs every 0.5-1 s and one stalled-job check per
 * queue per second, each covering all the queue's running jobs at once.
 */
export const STALL_DEFAULTS = { lockDurationMs: 4000, stalledIntervalMs: 1000, maxStalledCount: 3 } as const;

/** How often a worker renews its jobs' locks at the latest: a quarter of their duration. */
export function lockRenewMs(lockDurationMs: number): number {
  return Math.max(1, Math.round(lockDurationMs / 4));
}

/** After aborting running jobs at shutdown, how long they get to be handed back. */
const HAND_BACK_MS = 3000;

/**
 * Start the BullMQ worker of one site's queue. A job is a batch of units (StepBatchData: the VMs'
 * steps that became ready together at this site) or a single StepJobData. Each unit is checked
 * against StepJobData v1 and run by the handlers (which read the host before every mutating call),
 * the units of a batch concurrently; each unit's result is appended to the execution's completions
 * stream as soon as it is known (so its dependents need not wait for the rest of the batch), and
 * the job returns them all. A stale epoch fails the job as unrecoverable.
 */
export function startSiteWorkers(options: SiteWorkerOptions): SiteWorkers {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const queue = options.site === 'control' ? CONTROL_QUEUE : siteQueueName(options.site);
  const log = (options.logger ?? createLogger('worker')).child({ site: options.site, queue });
  const handlerOptions = resolveHandlerOptions(options.handlers);
  const redis = eventsConnection(options.redisUrl, `drorch-worker-${options.site}`);
  const bullConnection = createQueueConnection(options.redisUrl, {
    name: `drorch-worker-${options.site}-bull`,
  });
  // The controllers of the units running now, all aborted at shutdown.
  const running = new Set<AbortController>();
  let shuttingDown = false;

  const streams = createStreamWriter(redis, prefix);
  // What this worker serves: pre-flight checks a run's scripts against it (catalog-announce.ts).
  const announcer =
    options.announceCatalog === false
      ? undefined
      : startCatalogAnnouncer({
          redis,
          prefix,
          site: options.site,
          folder: handlerOptions.scriptCatalog,
          ...(options.catalogTtlMs === undefined ? {} : { ttlMs: options.catalogTtlMs }),
          log,
        });
  const sightings = createSightingStore(redis, prefix);
  // Units (one VM's steps, or one action) run at once across all jobs of this worker.
  const slots = new Slots(options.concurrency ?? 200);
  const runLocally: UnitRunner = (unit, sinks) =>
    runStepJob(unit.id, unit.data, {
      late: unit.late,
      lateFailedOver: unit.lateFailedOver,
      api: options.api,
      log: unit.log,
      events: sinks.events,
      memo: sinks.memo,
      sightings: sinks.sightings,
      options: handlerOptions,
      signal: unit.signal,
    });
  const runner = options.runUnit ?? runLocally;

  /**
   * Run one unit; its result goes to the completions stream under `jobId` as soon as it is known,
   * with the claim of the unit's follow units when it has some (events.ts). Returns the run and
   * the follow units claimed, which the caller runs next.
   */
  const runUnit = async (
    jobId: string,
    unit: JobUnit,
    follows: Follows | undefined,
    signal: AbortSignal,
  ): Promise<{ run: StepJobRun; next: JobUnit[] }> => {
    const { data } = unit;
    // The unit's events and its result go through the stream writer: with those of every unit of
    // this tick, in one script. Not awaited one by one: the result is queued after the unit's
    // events on the same connection, and all are awaited together, so the result costs no round
    // trip of its own and never precedes the events.
    const appends: Promise<unknown>[] = [];
    const events: EventSink = {
      append: (batch: readonly ExecutionEvent[]) => {
        const append = streams.appendEvents(batch);
        append.catch(() => {});
        appends.push(append);
        return Promise.resolve();
      },
    };
    const late = await lateFence(data);
    const run = await runner(
      {
        id: unit.id,
        data,
        late: late.late,
        lateFailedOver: late.failedOver,
        log: lazyChild(log, { execution: data.execution, job: unit.id, vm: data.vm, attempt: data.attempt }),
        signal,
      },
      { events, memo: redisActionMemo(redis, prefix, data.execution), sightings },
    );
    const mine = follows?.byParent.get(unit.key);
    const claim: FollowClaim | undefined =
      follows && mine
        ? {
            j: jobId,
            s: unit.key,
            q: follows.queuedAs,
            ok: endedWell(run, data),
            u: mine.map((follow) => ({ s: follow.data.steps, p: follow.after ?? [] })),
          }
        : undefined;
    const published = streams.publish(data.execution, jobId, run.result, claim);
    appends.push(published);
    await Promise.all(appends);
    const claimed = await published;
    if (claimed.length === 0) return { run, next: [] };
    // In the job's return value too: reconcile records the follows queued from it.
    run.result.claimed = claimed;
    const next: JobUnit[] = [];
    for (const steps of claimed) {
      const follow = mine?.find((f) => f.data.steps[0] === steps[0]);
      if (follow) next.push(follow);
    }
    return { run, next };
  };

  /**
   * A fence whose step the orchestrator already recorded final: warned at the fencing deadline
   * while the source site was gone, run now that its agent is back (handlers/dispatch.ts `late`).
   */
  const lateFence = async (data: StepJobData): Promise<{ late: boolean; failedOver: boolean }> => {
    const first = data.steps[0];
    if (first === undefined || jobStepKind(first) !== 'fence') return { late: false, failedOver: false };
    const failover = data.vm === undefined ? undefined : `${data.vm}/failover`;
    const [stored, failedOver] = await redis.hmget(
      executionKeys(prefix, data.execution).steps,
      first,
      failover ?? first,
    );
    const late = isFinal(decodeStepState(stored ?? undefined).status);
    // Done at the target: a running old primary has run in two sites (handlers/divergence.ts).
    const done = failover !== undefined && decodeStepState(failedOver ?? undefined).status === 'done';
    return { late, failedOver: late && done };
  };

  /** The units of a job: a batch's, or a single StepJobData job as one unit with the job's id. */
  const unitsOf = (job: Job<unknown, JobResult>, jobId: string): { units: JobUnit[]; follows?: Follows } => {
    if (!isStepBatchData(job.data)) {
      const data = parseStepJobData(job.data, jobId);
      return { units: [{ id: jobId, key: data.steps[0] ?? '', data }] };
    }
    const batch = job.data as StepBatchData;
    if (!Array.isArray(batch.units) || batch.units.length === 0) {
      throw new DrError(
        'BAD_JOB',
        `job ${jobId}: a batch without units; are the orchestrator and this worker the same version?`,
      );
    }
    const asUnit = (unit: StepBatchUnit): JobUnit => {
      const id = unitJobId(batch, unit);
      return { id, key: unit.steps[0] ?? '', data: parseStepJobData(unitJobData(batch, unit), id) };
    };
    const units = batch.units.map(asUnit);
    if (!Array.isArray(batch.follows) || batch.follows.length === 0) return { units };
    const byParent = new Map<string, JobUnit[]>();
    for (const follow of batch.follows) {
      const unit = { ...asUnit(follow), after: follow.after };
      for (const parent of follow.after) {
        const list = byParent.get(parent) ?? [];
        list.push(unit);
        byParent.set(parent, list);
      }
    }
    // A claimed step is stored as the orchestrator would queue it: in this job (its first unit's
    // first step is the job's key), first attempt.
    const queuedAs = encodeStepState({
      status: 'queued',
      attempt: batch.attempt,
      jobKey: units[0]?.key ?? '',
    });
    return { units, follows: { byParent, queuedAs, all: [...new Set([...byParent.values()].flat())] } };
  };

  /**
   * Follow units an earlier run of this job claimed and that are still queued in it (the job was
   * handed back, or its worker died): run again from the start, as the units of a repeated job
   * are, since the unit that claimed them may be recorded done already and never run again.
   */
  const claimedBefore = async (execution: string, follows: Follows | undefined): Promise<JobUnit[]> => {
    if (follows === undefined || follows.all.length === 0) return [];
    const states = await redis.hmget(
      executionKeys(prefix, execution).steps,
      ...follows.all.map((unit) => unit.key),
    );
    return follows.all.filter((_, i) => states[i] === follows.queuedAs);
  };

  const processJob = async (
    job: Job<unknown, JobResult>,
    token?: string,
    cancel?: AbortSignal,
  ): Promise<JobResult> => {
    const jobId = job.id ?? '';
    const { units, follows } = unitsOf(job, jobId);
    // Only a job run before (BullMQ counts each start) can have claimed follows already.
    const resumed =
      job.attemptsStarted > 1 ? await claimedBefore(units[0]?.data.execution ?? '', follows) : [];
    // Each unit runs once per run of the job (a follow claimed before may be claimed again).
    const started = new Set<string>();
    // One controller per unit (handlers add listeners to their signal; thousands on one shared
    // signal would make removing them quadratic), all aborted on BullMQ's cancel or at shutdown.
    const controllers = new Set<AbortController>();
    const onCancel = (): void => {
      for (const controller of controllers) controller.abort(cancel?.reason);
    };
    cancel?.addEventListener('abort', onCancel, { once: true });
    /** A unit, then the follow units it claimed (each with its own), all settled; runs in order. */
    const runTree = async (unit: JobUnit): Promise<PromiseSettledResult<StepJobRun>[]> => {
      if (started.has(unit.key)) return [];
      started.add(unit.key);
      const controller = new AbortController();
      if (cancel?.aborted) controller.abort(cancel.reason);
      // A follow claimed while the worker shuts down does not start: the job goes back to the
      // queue, and its next run gets the same claim.
      else if (shuttingDown) controller.abort(new Error('worker shutting down'));
      controllers.add(controller);
      running.add(controller);
      let ran: { run: StepJobRun; next: JobUnit[] };
      try {
        ran = await slots.run(() => runUnit(jobId, unit, follows, controller.signal), controller.signal);
      } catch (error) {
        return [{ status: 'rejected', reason: error }];
      } finally {
        running.delete(controller);
        controllers.delete(controller);
      }
      const after = await Promise.all(ran.next.map(runTree));
      return [{ status: 'fulfilled', value: ran.run }, ...after.flat()];
    };
    let runs: PromiseSettledResult<StepJobRun>[];
    try {
      runs = (await Promise.all([...units, ...resumed].map(runTree))).flat();
    } finally {
      cancel?.removeEventListener('abort', onCancel);
    }
    const rejected = runs.find((run): run is PromiseRejectedResult => run.status === 'rejected');
    if (rejected) {
      if (shuttingDown && token !== undefined) {
        // Unfinished, not failed: back to the queue at once for another worker. Units that
        // finished already published their results; run again, they find their work done and
        // their follow units claimed.
        log.info({ job: jobId }, 'handing the job back at shutdown');
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      throw rejected.reason;
    }
    const done = runs.map((run) => (run as PromiseFulfilledResult<StepJobRun>).value);
    const unrecoverable = done.find((run) => run.unrecoverable)?.unrecoverable;
    if (unrecoverable) throw new UnrecoverableError(`${unrecoverable.code}: ${unrecoverable.message}`);
    if (!isStepBatchData(job.data)) return (done[0] as StepJobRun).result;
    return { v: 1, units: done.map((run) => run.result) };
  };

  const worker = new Worker<unknown, JobResult>(queue, processJob, {
    connection: bullConnection,
    ...bullOptions(prefix),
    concurrency: options.concurrency ?? 200,
    lockDuration: options.lockDurationMs ?? STALL_DEFAULTS.lockDurationMs,
    lockRenewTime: lockRenewMs(options.lockDurationMs ?? STALL_DEFAULTS.lockDurationMs),
    stalledInterval: options.stalledIntervalMs ?? STALL_DEFAULTS.stalledIntervalMs,
    maxStalledCount: options.maxStalledCount ?? STALL_DEFAULTS.maxStalledCount,
  });
  worker.on('error', (error) => log.error({ err: error }, 'worker error'));
  worker.on('failed', (job, error) => log.warn({ job: job?.id, err: error.message }, 'job failed'));
  worker.on('stalled', (jobId) => log.warn({ job: jobId }, 'job stalled; handed to another worker'));
  // A job whose lock this worker lost is another worker's now (or failed): stop its units and
  // start none of its follows, so that it is not run here beside the run that replaces it.
  worker.on('lockRenewalFailed', (jobIds) => {
    for (const jobId of jobIds) {
      if (worker.cancelJob(jobId, 'the lock on the job was lost')) {
        log.warn({ job: jobId }, 'lost the lock on a running job; stopping it here');
      }
    }
  });
  // The agent's own split-brain guard: old primaries of failovers that come back (fence-sweep.ts).
  const sweepMs = options.fenceSweepMs ?? 10_000;
  const sweep =
    options.site === 'control' || sweepMs <= 0
      ? undefined
      : startFenceSweep({
          api: options.api,
          vault: redisSweepVault(redis, prefix),
          site: options.site,
          log,
          intervalMs: sweepMs,
          heartbeat: (at) => sightings.heartbeat(options.site, at),
        });

  let closing: Promise<void> | undefined;
  const close = async (timeoutMs: number): Promise<void> => {
    sweep?.stop();
    await announcer?.stop();
    const graceful = worker.close();
    if (!(await settlesWithin(graceful, timeoutMs))) {
      log.warn({ timeoutMs }, 'jobs still running at shutdown; handing them back to the queue');
      shuttingDown = true;
      for (const controller of running) controller.abort(new Error('worker shutting down'));
      // Jobs not handed back in time keep their lock until it lapses; the stalled-job check then
      // gives them to another worker.
      if (!(await settlesWithin(graceful, HAND_BACK_MS))) await worker.close(true);
    }
    redis.disconnect();
    bullConnection.disconnect();
  };
  return {
    queue,
    worker,
    ready: async () => {
      await worker.waitUntilReady();
      await announcer?.announced;
    },
    close: (timeoutMs = 10_000) => {
      closing ??= close(timeoutMs);
      return closing;
    },
  };
}

/**
 * The connection for events, completions and action memos: like createQueueConnection, plus
 * auto-pipelining, so the small writes of hundreds of concurrent jobs leave in one write per tick
 * instead of one syscall each.
 */
function eventsConnection(url: string, name: string): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
    connectionName: name,
    retryStrategy: (times) => Math.min(50 * times, 1000),
  });
  redis.on('error', () => {});
  return redis;
}

/** True when `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A counting semaphore: at most `size` tasks run at once, the others wait in order. */
class Slots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>, signal: AbortSignal): Promise<T> {
    if (this.active >= this.size) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.active += 1;
    try {
      signal.throwIfAborted();
      return await task();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}

const LOG_METHODS: ReadonlySet<string> = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);
const noop = (): void => {};

/**
 * `parent.child(bindings)`, made only when something is logged at an enabled level: a worker runs
 * thousands of units whose loggers mostly log nothing, and pino serializes a child's bindings when
 * the child is made. Children of it (`child({step})`) are lazy too.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let real: Logger | undefined;
  const made = (): Logger => {
    real ??= parent.child(bindings);
    return real;
  };
  return new Proxy(parent, {
    get(target, prop) {
      if (prop === 'child' && real === undefined) {
        return (more: Record<string, unknown>, options?: unknown) =>
          options === undefined
            ? lazyChild(parent, { ...bindings, ...more })
            : made().child(more, options as Parameters<Logger['child']>[1]);
      }
      if (typeof prop === 'string' && LOG_METHODS.has(prop) && real === undefined) {
        if (!target.isLevelEnabled(prop)) return noop;
      }
      const logger = made();
      const value: unknown = Reflect.get(logger, prop, logger);
      return typeof value === 'function' ? value.bind(logger) : value;
    },
  });
}
