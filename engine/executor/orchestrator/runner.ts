/**
 * Drives one execution while holding its lease: restore from Redis, reconcile with BullMQ, then
 * loop: read completions → record them with the successors now ready (one Lua call) → add those
 * jobs (one addBulk per queue) → until every step is final. Then finish (finish.ts).
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../common/index.ts';
import type { EngineEvent } from '../../contract/index.ts';
import { EVENT_SCHEMA_VERSION } from '../../contract/index.ts';
import {
  applyExecutionEvent,
  executionStatus,
  persistExecution,
  restoreExecution,
} from '../../machines/index.ts';
import { jobContext } from '../../schedule/index.ts';
import { readCompletions } from '../completions.ts';
import { executionKeys, globalKeys } from '../keys.ts';
import { loadExecution, loadPlanSnapshot } from '../store/execution-record.ts';
import { renewLease } from '../store/lease.ts';
import {
  emptyWrite,
  isEmptyWrite,
  leaseLost,
  META,
  type ProgressWrite,
  RECORD_SCRIPT,
  recordArgs,
} from '../store/record.ts';
import { LuaScript } from '../store/script.ts';
import { FenceDeadline } from './best-effort.ts';
import { crashPoint } from './crash-points.ts';
import { finishExecution } from './finish.ts';
import { startFollowUps } from './follow-up.ts';
import { syncPaused } from './operator.ts';
import { ExecutionProgress } from './progress.ts';
import type { RunnerDeps } from './runner-deps.ts';
import { stepsFor } from './steps-for.ts';

const RECORD = new LuaScript(RECORD_SCRIPT, 5);

export class ExecutionRunner {
  private stopped = false;
  private lost = false;
  private readonly keys;
  private readonly log: Logger;
  private afterDrain: ((write: ProgressWrite) => void) | undefined;

  constructor(
    readonly execution: string,
    private readonly token: string,
    private readonly deps: RunnerDeps,
    private readonly blocking: Redis,
  ) {
    this.keys = executionKeys(deps.prefix, execution);
    this.log = deps.log.child({ execution });
  }

  /** Ask the loop to stop at its next turn (graceful close); the lease is left to expire or be released. */
  stop(): void {
    this.stopped = true;
    this.blocking.disconnect();
  }

  async run(): Promise<void> {
    const { redis, prefix } = this.deps;
    const loaded = await loadExecution(redis, prefix, this.execution);
    const { record } = loaded;
    let machine = restoreExecution(loaded.fields[META.machine] ?? '');
    if (!['submitted', 'running', 'paused'].includes(executionStatus(machine))) {
      // Its end was recorded by an orchestrator that died before storing what the end starts.
      await startFollowUps(this.deps, record, executionStatus(machine));
      await redis.zrem(`${prefix}:active`, this.execution);
      return;
    }
    const plan = await loadPlanSnapshot(redis, prefix, this.execution);
    const steps = stepsFor(plan, record, this.deps.compile);
    const [storedSteps, storedVms] = await Promise.all([
      redis.hgetall(this.keys.steps),
      redis.hgetall(this.keys.vms),
    ]);
    const returnEpoch = record.type === 'cancel' ? await this.returnEpoch(loaded.fields) : undefined;
    const ctx = jobContext({
      execution: record.id,
      epoch: record.epoch,
      ...(returnEpoch === undefined ? {} : { returnEpoch }),
      type: record.type,
      direction: record.direction,
      plan,
      ...(record.recoveryPoint ? { recoveryPoint: record.recoveryPoint } : {}),
      ...(record.approveManual ? { approveManual: true } : {}),
      ...(record.protect ? { automaticStartAction: record.protect.action } : {}),
    });
    const progress = new ExecutionProgress(ctx, steps, storedSteps, storedVms, this.log, this.deps.now);
    const lastReadyAt = Number(loaded.fields[META.lastReadyAt]);
    if (lastReadyAt > 0) progress.lastReadyAt = lastReadyAt;
    // `drctl cancel` arrived before a crash: still no dispatch (store/lifecycle.ts, H4).
    if (loaded.fields.cancelRequested) progress.cancel(loaded.fields.cancelRequested);
    // Paused while a step waits for an operator (operator.ts), written with each batch.
    this.afterDrain = (write) => {
      machine = syncPaused(machine, progress, write, this.deps.now());
    };
    let cursor = loaded.fields[META.cursor] ?? '0';

    const first = emptyWrite();
    const at = new Date(this.deps.now()).toISOString();
    const resumed = executionStatus(machine) !== 'submitted';
    if (!resumed) {
      // One instant for the machine and the record, so runMs and the stored start agree.
      const startedAt = this.deps.now();
      machine = applyExecutionEvent(machine, { type: 'START', now: startedAt }).snapshot;
      first.meta.push([META.status, executionStatus(machine)], [META.machine, persistExecution(machine)]);
      first.meta.push([META.startedAt, String(startedAt)]);
    }
    first.meta.push([META.owner, this.deps.orchestratorId]);
    const startEvent: EngineEvent = resumed
      ? {
          v: EVENT_SCHEMA_VERSION,
          at,
          type: 'execution-resumed',
          execution: record.id,
          orchestrator: this.deps.orchestratorId,
          pendingSteps: progress.graph.total - progress.graph.finished,
        }
      : {
          v: EVENT_SCHEMA_VERSION,
          at,
          type: 'execution-started',
          execution: record.id,
          orchestrator: this.deps.orchestratorId,
        };
    first.events.push(JSON.stringify(startEvent));
    await this.record(first);
    this.log.info(
      { resumed, steps: progress.graph.total, done: progress.graph.finished },
      resumed ? 'resuming execution' : 'starting execution',
    );

    const renew = setInterval(
      () => {
        renewLease(redis, this.keys.lease, this.token, this.deps.leaseMs)
          .then((ok) => {
            if (!ok) {
              this.lost = true;
              this.stop();
            }
          })
          .catch((error: unknown) => this.log.warn({ err: error }, 'lease renewal failed; retrying'));
      },
      Math.max(50, Math.floor(this.deps.leaseMs / 3)),
    );
    renew.unref();
    try {
      // Resume: what BullMQ says about every job we had sent, then the steps ready but never sent.
      await this.reconcile(progress);
      progress.seedReady();
      await this.commit(progress);
      let idleSince = this.deps.now();
      // Unplanned: fences still in flight past the plan's deadline are recorded warned (best-effort.ts).
      // Automatic (engine/control/auto): the expired lease is the fence, recorded at once.
      const fences = FenceDeadline.of(progress, Number(loaded.fields[META.startedAt]) || this.deps.now(), {
        byLease: Boolean(loaded.fields[META.automatic]),
      });
      while (!this.stopped && !progress.isSettled()) {
        if (fences?.expire(this.deps.now())) await this.commit(progress);
        let completions: Awaited<ReturnType<typeof readCompletions>> = [];
        try {
          completions = await readCompletions(this.blocking, prefix, this.execution, cursor, {
            blockMs: this.deps.blockMs,
            count: 5000,
          });
        } catch (error) {
          if (this.stopped) break;
          throw error;
        }
        if (completions.length === 0) {
          if (this.deps.now() - idleSince >= this.deps.sweepIdleMs) {
            await this.reconcile(progress);
            await this.commit(progress);
            idleSince = this.deps.now();
          }
          continue;
        }
        idleSince = this.deps.now();
        crashPoint('after-job-finished-before-record');
        for (const completion of completions) progress.applyResult(completion.jobId, completion.result);
        cursor = completions.at(-1)?.id ?? cursor;
        await this.commit(progress, cursor);
      }
      if (this.lost) throw leaseLost(this.execution);
      if (this.stopped) return;
      await finishExecution(this.deps, this.execution, this.token, record, machine, progress, (write) =>
        this.record(write),
      );
    } finally {
      clearInterval(renew);
    }
  }

  /**
   * A cancel's epoch for its returns (JobContext.returnEpoch): taken from the global counter once,
   * when the cancel first starts, and kept in its meta (HSETNX), so that every orchestrator that
   * runs it uses the same one. Newer than the cancel's own, so a host that has seen it refuses a
   * restore of the cancel still on its way.
   */
  private async returnEpoch(fields: Readonly<Record<string, string>>): Promise<number> {
    const stored = Number(fields[META.returnEpoch]);
    if (Number.isSafeInteger(stored) && stored > 0) return stored;
    const { redis, prefix } = this.deps;
    const taken = await redis.incr(globalKeys(prefix).epoch);
    await redis.hsetnx(this.keys.meta, META.returnEpoch, String(taken));
    return Number(await redis.hget(this.keys.meta, META.returnEpoch));
  }

  /** Record the batch, then send its jobs. */
  private async commit(progress: ExecutionProgress, cursor?: string): Promise<void> {
    const { write, jobs } = progress.drain(cursor);
    this.afterDrain?.(write);
    if (!isEmptyWrite(write)) await this.record(write);
    const notices = progress.takeNotices();
    if (notices.length > 0 && this.deps.onNotices !== undefined)
      await this.deps
        .onNotices(notices)
        .catch((error: unknown) =>
          this.log.warn({ err: error, notices: notices.length }, 'notices not raised'),
        );
    if (jobs.length === 0) return;
    crashPoint('after-record-before-dispatch');
    await this.deps.queues.add(jobs);
  }

  private async record(write: ProgressWrite): Promise<void> {
    if (this.lost) throw leaseLost(this.execution);
    try {
      await RECORD.run(this.deps.redis, recordArgs(this.keys, this.token, this.deps.leaseMs, write));
    } catch (error) {
      if (error instanceof Error && error.message.includes('LEASE_LOST')) {
        this.lost = true;
        throw leaseLost(this.execution);
      }
      throw error;
    }
  }

  private async reconcile(progress: ExecutionProgress): Promise<void> {
    const queued = progress.queuedJobs();
    if (queued.length === 0) return;
    const outcome = await this.deps.reconcile(queued);
    for (const done of outcome.finished) progress.applyResult(done.jobId, done.result, done.synthesized);
    if (outcome.missing.length > 0) {
      this.log.info({ jobs: outcome.missing.length }, 're-sending jobs recorded as queued but not in BullMQ');
      await this.deps.queues.add(outcome.missing);
    }
    if (outcome.finished.length > 0)
      this.log.info({ jobs: outcome.finished.length }, 'recorded jobs that finished unseen');
  }
}
