/**
 * The orchestrator process: finds executions that need driving (`<prefix>:active`, woken on
 * submit), takes each one's lease, runs it, and cleans up drills past their deadline. Any number
 * of orchestrators may run; the lease makes one the driver of each execution.
 */
import { randomBytes } from 'node:crypto';
import { createLogger, DrError, type Logger } from '../../common/index.ts';
import { DEFAULT_PREFIX, executionKeys, globalKeys } from '../keys.ts';
import { createQueueConnection } from '../queues.ts';
import { acquireLease, releaseLease } from '../store/lease.ts';
import { cleanUpExpiredDrills } from './deadline.ts';
import { QueueSet } from './queue-set.ts';
import { reconcileJobs } from './reconcile.ts';
import { ExecutionRunner } from './runner.ts';
import type { CompileFn, DecisionSink, ExecutionNotice, RunnerDeps } from './runner-deps.ts';

/** Options of startOrchestrator. */
export interface OrchestratorOptions {
  redisUrl: string;
  /** @defaultValue 'dr' */
  prefix?: string;
  /** Compiles a stored plan snapshot into its step graph (engine/plan's compilePlan). */
  compile: CompileFn;
  /** @defaultValue `orch-<host pid>-<random>` */
  id?: string;
  /**
   * Lease of an execution: another orchestrator takes over this long after this one died.
   * @defaultValue 10_000 (env DR_LEASE_MS)
   */
  leaseMs?: number;
  /**
   * How often active executions and drill deadlines are looked at (besides the wake-up on submit).
   * @defaultValue 1_000
   */
  pollMs?: number;
  /**
   * XREAD BLOCK of the completions stream.
   * @defaultValue 500
   */
  blockMs?: number;
  /**
   * Without completions for this long, the orchestrator asks BullMQ about its queued jobs.
   * @defaultValue 2_000
   */
  sweepIdleMs?: number;
  /** @defaultValue Date.now */
  now?: () => number;
  /** @defaultValue a pino logger named `orchestrator` */
  logger?: Logger;
  /**
   * Told what a person should hear of (manual steps waiting, steps failed, drills past their
   * deadline), after it is recorded; the control plane's notifications. A failure is logged.
   */
  onNotices?: (notices: readonly ExecutionNotice[]) => Promise<unknown>;
  /**
   * Told of each decision the engine takes by itself (a drill cleaned up at its deadline, a
   * failback's reprotect): the control plane writes them to its audit log under the system actor.
   */
  onDecision?: DecisionSink;
}

export interface Orchestrator {
  readonly id: string;
  /** Executions this process drives now. */
  running(): string[];
  /** Resolves when the given execution is no longer driven here (finished, or lost). */
  /** Stop: runners stop at their next turn, leases are released; bounded by timeoutMs. */
  close(timeoutMs?: number): Promise<void>;
}

export async function startOrchestrator(options: OrchestratorOptions): Promise<Orchestrator> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const id = options.id ?? `orch-${process.pid}-${randomBytes(3).toString('hex')}`;
  const log = (options.logger ?? createLogger('orchestrator')).child({ orchestrator: id });
  const redis = createQueueConnection(options.redisUrl, { name: id });
  const subscriber = createQueueConnection(options.redisUrl, { name: `${id}-wake` });
  const now = options.now ?? Date.now;
  const queues = new QueueSet(redis, prefix, log);
  const deps: RunnerDeps = {
    redis,
    prefix,
    orchestratorId: id,
    leaseMs: options.leaseMs ?? Number(process.env.DR_LEASE_MS ?? 10_000),
    blockMs: options.blockMs ?? 500,
    sweepIdleMs: options.sweepIdleMs ?? 2_000,
    now,
    log,
    compile: options.compile,
    queues,
    reconcile: (jobs) => reconcileJobs(redis, prefix, jobs),
    ...(options.onNotices === undefined ? {} : { onNotices: options.onNotices }),
    ...(options.onDecision === undefined
      ? {}
      : {
          decided: (decision) =>
            (options.onDecision as DecisionSink)(decision).catch((error: unknown) => {
              log.error({ err: error, execution: decision.execution }, 'could not record an engine decision');
            }),
        }),
  };
  const overdue =
    options.onNotices === undefined ? undefined : { onNotices: options.onNotices, told: new Set<string>() };
  const runners = new Map<string, { runner: ExecutionRunner; token: string; done: Promise<void> }>();
  const global = globalKeys(prefix);
  let closing = false;
  let ticking: Promise<void> | undefined;

  const startRunner = async (execution: string): Promise<void> => {
    const token = `${id}.${randomBytes(6).toString('hex')}`;
    if (!(await acquireLease(redis, executionKeys(prefix, execution).lease, token, deps.leaseMs))) return;
    if (closing) {
      await releaseLease(redis, executionKeys(prefix, execution).lease, token);
      return;
    }
    const blocking = redis.duplicate();
    blocking.on('error', () => {});
    const runner = new ExecutionRunner(execution, token, deps, blocking);
    const done = runner
      .run()
      .catch(async (error: unknown) => {
        const lost = error instanceof DrError && error.code === 'LEASE_LOST';
        log.error(
          { err: error, execution },
          lost
            ? 'lease lost: another orchestrator drives this execution'
            : 'execution runner stopped on an error; it will be picked up again',
        );
        if (!lost) await releaseLease(redis, executionKeys(prefix, execution).lease, token).catch(() => {});
      })
      .finally(() => {
        runners.delete(execution);
        blocking.disconnect();
        if (!closing) void tick();
      });
    runners.set(execution, { runner, token, done });
  };

  const tickOnce = async (): Promise<void> => {
    const active = await redis.zrange(global.active, '0', '-1');
    for (const execution of active) {
      if (closing) return;
      if (!runners.has(execution)) await startRunner(execution);
    }
    await cleanUpExpiredDrills(redis, prefix, now, log, overdue, deps.decided);
  };
  const tick = (): Promise<void> => {
    if (closing) return Promise.resolve();
    if (!ticking) {
      ticking = tickOnce()
        .catch((error: unknown) => log.warn({ err: error }, 'orchestrator scan failed; retrying'))
        .finally(() => {
          ticking = undefined;
        });
    }
    return ticking;
  };

  await subscriber.subscribe(global.wake);
  subscriber.on('message', () => void tick());
  const timer = setInterval(() => void tick(), options.pollMs ?? 1_000);
  await tick();
  log.info({ prefix }, 'orchestrator started');

  return {
    id,
    running: () => [...runners.keys()],
    close: async (timeoutMs = 10_000) => {
      closing = true;
      clearInterval(timer);
      const all = [...runners.values()];
      for (const { runner } of all) runner.stop();
      const settle = Promise.all([ticking, ...all.map((r) => r.done)]);
      await Promise.race([settle, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
      await Promise.all(
        all.map((r) =>
          releaseLease(redis, executionKeys(prefix, r.runner.execution).lease, r.token).catch(() => {}),
        ),
      );
      await queues.close().catch(() => {});
      subscriber.disconnect();
      await redis.quit().catch(() => redis.disconnect());
      log.info('orchestrator closed');
    },
  };
}
