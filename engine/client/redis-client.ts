/**
 * ExecutionClient on Redis: the same keys the orchestrator drives (engine/executor).
 */
import { userInfo } from 'node:os';
import { DrError } from '../common/index.ts';
import type { VmPhase } from '../executor/index.ts';
import {
  approveStep,
  type CompileFn,
  createQueueConnection,
  DEFAULT_PREFIX,
  decodeStepState,
  type ExecutionRecord,
  executionKeys,
  globalKeys,
  isFinalStatus,
  loadExecution,
  loadPlanSnapshot,
  readEvents,
  type StoredEvent,
  submitCleanup,
  submitExecution,
} from '../executor/index.ts';
import { restoreVm, vmPhase } from '../machines/index.ts';
import type { EventsOptions, ExecutionClient, ExecutionView, SubmitOptions, SubmitResult } from './types.ts';

/** Options of createRedisExecutionClient. */
export interface RedisClientOptions {
  redisUrl: string;
  /** @defaultValue 'dr' */
  prefix?: string;
  /** The plan compiler (engine/plan's compilePlan): validates and sizes a plan before it is stored. */
  compile: CompileFn;
}

function whoAmI(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

export function createRedisExecutionClient(options: RedisClientOptions): ExecutionClient {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const redis = createQueueConnection(options.redisUrl, { name: 'drctl' });
  const followers = new Set<ReturnType<typeof redis.duplicate>>();

  const submit = async (submitOptions: SubmitOptions): Promise<SubmitResult> => {
    const direction = submitOptions.direction ?? 'forward';
    // Compiling here means a plan that cannot run is refused before anything is stored.
    const compiled = options.compile(submitOptions.plan, { type: submitOptions.type, direction });
    const result = await submitExecution(redis, prefix, {
      type: submitOptions.type,
      direction,
      plan: submitOptions.plan,
      hash: submitOptions.hash,
      by: submitOptions.by ?? whoAmI(),
      reason: submitOptions.reason,
      stepsTotal: compiled.steps.size,
      estimateMs: compiled.estimate.rtoMs,
      ...(submitOptions.recoveryPoint ? { recoveryPoint: submitOptions.recoveryPoint } : {}),
      ...(submitOptions.recoveryPointGap ? { recoveryPointGap: submitOptions.recoveryPointGap } : {}),
      ...(submitOptions.approveManual ? { approveManual: true } : {}),
    });
    return {
      id: result.id,
      epoch: result.epoch,
      stepsTotal: compiled.steps.size,
      estimateMs: compiled.estimate.rtoMs,
    };
  };

  const get = async (id: string, getOptions: { vms?: boolean } = {}): Promise<ExecutionView> => {
    const { record } = await loadExecution(redis, prefix, id);
    const view: ExecutionView = { ...record };
    if (!getOptions.vms) return view;
    const plan = await loadPlanSnapshot(redis, prefix, id);
    const keys = executionKeys(prefix, id);
    const [vms, steps] = await Promise.all([redis.hgetall(keys.vms), redis.hgetall(keys.steps)]);
    const phases: Record<string, VmPhase> = {};
    for (const vm of plan.vms) {
      const json = vms[vm.name];
      phases[vm.name] = json ? vmPhase(restoreVm(json)) : 'waiting';
    }
    view.vms = phases;
    if (record.type !== 'cleanup') {
      const waves = options.compile(plan, { type: record.type, direction: record.direction }).waves ?? [];
      view.waves = waves.length;
      const current = waves.findIndex((wave) =>
        wave.some((step) => !isFinalStatus(decodeStepState(steps[step]).status)),
      );
      view.currentWave = current === -1 ? waves.length : current;
    }
    return view;
  };

  const list = async (listOptions: { limit?: number } = {}): Promise<ExecutionRecord[]> => {
    const ids = await redis.zrevrange(globalKeys(prefix).executions, 0, (listOptions.limit ?? 20) - 1);
    const records: ExecutionRecord[] = [];
    for (const id of ids) {
      try {
        records.push((await loadExecution(redis, prefix, id)).record);
      } catch (error) {
        if (!(error instanceof DrError && error.code === 'EXECUTION_NOT_FOUND')) throw error;
      }
    }
    return records;
  };

  async function* events(id: string, eventOptions: EventsOptions = {}): AsyncIterable<StoredEvent> {
    await loadExecution(redis, prefix, id);
    let after = eventOptions.after ?? '0';
    const page = await readEvents(redis, prefix, id, { after });
    let finished = false;
    for (const stored of page) {
      yield stored;
      after = stored.id;
      if (stored.event.type === 'execution-finished') finished = true;
    }
    if (!eventOptions.follow || finished) return;
    const blocking = redis.duplicate();
    blocking.on('error', () => {});
    followers.add(blocking);
    const abort = (): void => blocking.disconnect();
    eventOptions.signal?.addEventListener('abort', abort);
    try {
      while (!eventOptions.signal?.aborted) {
        let batch: StoredEvent[];
        try {
          batch = await readEvents(blocking, prefix, id, { after, blockMs: 1000, count: 1000 });
        } catch (error) {
          if (eventOptions.signal?.aborted) return;
          throw error;
        }
        for (const stored of batch) {
          yield stored;
          after = stored.id;
          if (stored.event.type === 'execution-finished') return;
        }
      }
    } finally {
      eventOptions.signal?.removeEventListener('abort', abort);
      followers.delete(blocking);
      blocking.disconnect();
    }
  }

  return {
    submit,
    get,
    list,
    events,
    cleanup: (id, cleanupOptions) =>
      submitCleanup(redis, prefix, id, { by: cleanupOptions.by ?? whoAmI(), reason: cleanupOptions.reason }),
    approve: (id, action, approveOptions = {}) =>
      approveStep(redis, prefix, id, action, approveOptions.by ?? whoAmI()),
    close: async () => {
      for (const follower of followers) follower.disconnect();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

export type { ExecutionRecord };
