/**
 * ExecutionClient on Redis: the same keys the orchestrator drives (engine/executor).
 */
import { DrError, InputError } from '../common/index.ts';
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
  readServedCatalogs,
  type StoredEvent,
  submitCleanup,
  submitExecution,
} from '../executor/index.ts';
// The id is chosen before the gate: the locks name the execution they are taken for.
import { newExecutionId } from '../executor/store/submit.ts';
import { createLockReader, persistLocks, releaseLocks } from '../locks/index.ts';
import { initialVmSnapshot, restoreVm, type VmWhere, vmPhase, vmWhere } from '../machines/index.ts';
import type { RecoveryPlan } from '../plan/types.ts';
import {
  type HyperVReadApi,
  PreflightBlockedError,
  type PreflightReport,
  preflightAndLock,
  runPreflight,
  selectSubset,
  subPlan,
} from '../preflight/index.ts';
import { sitesOf } from '../schedule/index.ts';
import type {
  EventsOptions,
  ExecutionClient,
  ExecutionView,
  PreflightOptions,
  SubmitOptions,
  SubmitResult,
} from './types.ts';
import { whoAmI } from './who-am-i.ts';

/**
 * Lifetime of the locks between the gate and the stored execution: a submitter that dies in that
 * window (milliseconds normally) frees the plan again after this long, not never.
 */
const SUBMIT_LOCK_TTL_MS = 60_000;

/** How many executions' plan snapshots and waves `get` keeps (each is immutable). */
const SHAPE_CACHE = 8;

/** Options of createRedisExecutionClient. */
export interface RedisClientOptions {
  redisUrl: string;
  /** @defaultValue 'dr' */
  prefix?: string;
  /** The plan compiler (engine/plan's compilePlan): validates and sizes a plan before it is stored. */
  compile: CompileFn;
  /**
   * Read access to the sites (the simulator's API, in process or `createSimClient(url)`): the
   * pre-flight every drill and failover goes through. Without it `submit` and `preflight` refuse
   * (NO_INVENTORY); watching and cleanups work without it.
   */
  inventory?: HyperVReadApi;
}

export function createRedisExecutionClient(options: RedisClientOptions): ExecutionClient {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const redis = createQueueConnection(options.redisUrl, { name: 'drctl' });
  // One script catalog, the engine's: what the workers of each site announce they serve.
  const catalog = { catalogs: (site: string) => readServedCatalogs(redis, prefix, site) };
  const followers = new Set<ReturnType<typeof redis.duplicate>>();

  const inventory = (): HyperVReadApi => {
    if (options.inventory !== undefined) return options.inventory;
    throw new DrError(
      'NO_INVENTORY',
      'pre-flight must read the sites before a drill or failover, and this client has no inventory reader: give the simulated sites (--sim <url> or DR_SIM_URL)',
      { exitCode: 2 },
    );
  };

  const preflight = async (
    preflightOptions: PreflightOptions & { exactPoints?: boolean },
  ): Promise<PreflightReport> => {
    const api = inventory();
    return await runPreflight({
      ...preflightInput(preflightOptions),
      ...catalog,
      api,
      locks: createLockReader(redis, prefix),
      ...(preflightOptions.exactPoints ? { points: 'all' as const } : {}),
    });
  };

  const submit = async (submitOptions: SubmitOptions): Promise<SubmitResult> => {
    const api = inventory();
    const direction = submitOptions.direction ?? 'forward';
    if (submitOptions.thenReprotect && (submitOptions.type !== 'planned' || direction !== 'failback')) {
      throw new InputError(
        'NOT_A_FAILBACK',
        `only a planned failback reverses replication by itself; this is a ${submitOptions.type} ${direction} run`,
      );
    }
    // A bad selection is bad input before anything is read; the stored plan is the selected part.
    const subset = selectSubset(submitOptions.plan, submitOptions.selection);
    const plan = subPlan(submitOptions.plan, subset.vms);
    // Compiling here means a plan that cannot run is refused before anything is stored.
    const compiled = options.compile(plan, { type: submitOptions.type, direction });
    const id = newExecutionId(submitOptions.type, Date.now());
    const gate = await preflightAndLock({
      ...preflightInput(submitOptions),
      ...catalog,
      api,
      redis,
      prefix,
      execution: id,
      operation: direction === 'failback' ? `${submitOptions.type} failback` : submitOptions.type,
      estimateRtoMs: compiled.estimate.rtoMs,
      lockTtlMs: SUBMIT_LOCK_TTL_MS,
    });
    if (!gate.locked) throw new PreflightBlockedError(gate.report);
    const held = { execution: id, plan: plan.metadata.name, vms: gate.report.selected };
    let result: Awaited<ReturnType<typeof submitExecution>>;
    try {
      result = await submitExecution(redis, prefix, {
        id,
        type: submitOptions.type,
        direction,
        plan,
        hash: submitOptions.hash,
        by: submitOptions.by ?? whoAmI(),
        reason: submitOptions.reason,
        stepsTotal: compiled.steps.size,
        estimateMs: compiled.estimate.rtoMs,
        ...(submitOptions.recoveryPoint ? { recoveryPoint: submitOptions.recoveryPoint } : {}),
        ...(submitOptions.recoveryPointGap ? { recoveryPointGap: submitOptions.recoveryPointGap } : {}),
        ...(submitOptions.approveManual ? { approveManual: true } : {}),
        ...(submitOptions.thenReprotect ? { thenReprotect: true } : {}),
        ...(submitOptions.automatic ? { automatic: submitOptions.automatic } : {}),
        ...(submitOptions.makeDurable ? { makeDurable: submitOptions.makeDurable } : {}),
      });
    } catch (error) {
      // Released only if the execution never became runnable (not in the active set): a stored,
      // active execution keeps its locks (they expire with the TTL unless persisted below).
      const active = await redis.zscore(globalKeys(prefix).active, id).catch(() => null);
      if (active === null) await releaseLocks(redis, prefix, held).catch(() => undefined);
      throw error;
    }
    // One retry: a lock left with its TTL would expire under a running execution.
    await persistLocks(redis, prefix, held).catch(() => persistLocks(redis, prefix, held));
    return {
      id: result.id,
      epoch: result.epoch,
      stepsTotal: compiled.steps.size,
      estimateMs: compiled.estimate.rtoMs,
      preflight: gate.report,
    };
  };

  // An execution's plan snapshot and its waves never change: kept for the last few executions
  // asked about with `vms`, so a poll of a 10,000-VM run reads the states and no longer compiles.
  const shapes = new Map<string, { plan: RecoveryPlan; waves?: string[][] }>();
  const shapeOf = async (id: string, record: ExecutionRecord) => {
    const hit = shapes.get(id);
    if (hit !== undefined) return hit;
    const plan = await loadPlanSnapshot(redis, prefix, id);
    const waves =
      record.type === 'test' || record.type === 'planned' || record.type === 'unplanned'
        ? (options.compile(plan, { type: record.type, direction: record.direction }).waves ?? [])
        : undefined;
    const shape = { plan, ...(waves === undefined ? {} : { waves }) };
    if (shapes.size >= SHAPE_CACHE) shapes.delete(shapes.keys().next().value ?? '');
    shapes.set(id, shape);
    return shape;
  };

  const get = async (id: string, getOptions: { vms?: boolean } = {}): Promise<ExecutionView> => {
    const { record } = await loadExecution(redis, prefix, id);
    const view: ExecutionView = { ...record };
    if (!getOptions.vms) return view;
    const { plan, waves } = await shapeOf(id, record);
    const keys = executionKeys(prefix, id);
    const [vms, steps] = await Promise.all([redis.hgetall(keys.vms), redis.hgetall(keys.steps)]);
    const phases: Record<string, VmPhase> = {};
    const where: Record<string, VmWhere> = {};
    const sites = sitesOf({ plan, direction: record.direction });
    for (const vm of plan.vms) {
      const json = vms[vm.name];
      const snapshot = json ? restoreVm(json) : initialVmSnapshot(vm.name, record.type);
      phases[vm.name] = json ? vmPhase(snapshot) : 'waiting';
      const fence = decodeStepState(steps[`${vm.name}/fence`]).status;
      const primaryAt = record.protect?.sites[vm.name];
      where[vm.name] = vmWhere(snapshot, {
        ...sites,
        ...(primaryAt === undefined ? {} : { primaryAt }),
        ...(record.type === 'unplanned'
          ? { fence: fence === 'done' || fence === 'warned' || fence === 'failed' ? fence : 'pending' }
          : {}),
      });
    }
    view.vms = phases;
    view.where = where;
    if (waves !== undefined) {
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
    preflight,
    get,
    list,
    events,
    cleanup: (id, cleanupOptions) =>
      submitCleanup(redis, prefix, id, { by: cleanupOptions.by ?? whoAmI(), reason: cleanupOptions.reason }),
    approve: (id, action, approveOptions = {}) =>
      approveStep(redis, prefix, id, action, approveOptions.by ?? whoAmI(), {
        ...(approveOptions.comment === undefined ? {} : { comment: approveOptions.comment }),
      }),
    close: async () => {
      for (const follower of followers) follower.disconnect();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** The pre-flight settings a submit and a dry run share. */
function preflightInput(options: PreflightOptions) {
  return {
    plan: options.plan,
    type: options.type,
    direction: options.direction ?? 'forward',
    ...(options.selection === undefined ? {} : { selection: options.selection }),
    ...(options.recoveryPoint === undefined ? {} : { recoveryPoint: options.recoveryPoint }),
    ...(options.accept === undefined ? {} : { accept: options.accept }),
    ...(options.maxUtilization === undefined ? {} : { maxUtilization: options.maxUtilization }),
  };
}

export type { ExecutionRecord };
