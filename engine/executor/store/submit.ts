/**
 * Submitting an execution: the plan's snapshot and hash, who started it and why, the epoch it runs
 * under (a global INCR counter: every later execution fences out the earlier ones), and for a drill
 * the deadline of its automatic cleanup. A resumed execution reads only this, never the plan file.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DrError } from '../../common/index.ts';
import type { AutomaticEvidence, EngineEvent } from '../../contract/index.ts';
import { EVENT_SCHEMA_VERSION, type ExecutionType } from '../../contract/index.ts';
import { readPlanLock } from '../../locks/index.ts';
import { initialExecutionSnapshot, persistExecution } from '../../machines/index.ts';
import type { Direction, RecoveryPlan, RecoveryPointChoice } from '../../plan/types.ts';
import { executionKeys, globalKeys } from '../keys.ts';
import type { ExecutionRecord, ProtectInfo } from './execution-record.ts';
import { META } from './record.ts';
import { LuaScript } from './script.ts';

const SUBMIT = new LuaScript(
  `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[3], ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('XADD', KEYS[2], '*', 'e', ARGV[1])
return 1`,
  3,
);

/** What a submitter gives. */
export interface SubmitRequest {
  type: ExecutionType;
  direction: Direction;
  plan: RecoveryPlan;
  hash: string;
  /** Who started it (user name, or `engine` for automatic cleanups). */
  by: string;
  reason: string;
  /** Recovery point chosen at run time, overriding the plan's. */
  recoveryPoint?: RecoveryPointChoice;
  /** Cleanup: the drill it cleans up. */
  parent?: string;
  /** A fixed id (idempotent submit); generated when omitted. */
  id?: string;
  stepsTotal: number;
  estimateMs: number;
  recoveryPointGap?: ExecutionRecord['recoveryPointGap'];
  /** Manual actions count as approved (demo, unattended runs); else each waits for `approve`. */
  approveManual?: boolean;
  /**
   * A planned failback only: once every VM is home, the engine itself reverses replication to the
   * original direction (a reprotect execution the orchestrator submits, orchestrator/follow-up.ts),
   * and the failback is not settled until that reprotect ended. @defaultValue false
   */
  thenReprotect?: boolean;
  /**
   * A protect execution (store/protect.ts): the action and each VM's site, stored in the same
   * write as the execution, since its step graph is built from them.
   */
  protect?: ProtectInfo;
  /**
   * Started by the engine itself (engine/control/auto): the evidence, stored with it and written as
   * its `automatic-failover` event right after `execution-submitted`, in the same write.
   */
  automatic?: AutomaticEvidence;
  /**
   * Called once the execution and its events are written and before it is made runnable (the
   * active set, the orchestrators' wake): an automatic failover makes them durable here (WAITAOF,
   * engine/control/auto durability.ts), so no step runs under a submission Redis could still lose.
   * A throw leaves the execution stored but never runnable.
   */
  makeDurable?: () => Promise<void>;
  /** Clock (ms). @defaultValue Date.now */
  now?: () => number;
}

const SHORT: Record<ExecutionType, string> = {
  test: 'drill',
  planned: 'planned',
  unplanned: 'unplanned',
  cleanup: 'cleanup',
  commit: 'commit',
  'change-point': 'change-point',
  cancel: 'cancel',
  reprotect: 'reprotect',
  protect: 'protect',
};

export function newExecutionId(type: ExecutionType, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${SHORT[type]}-${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Runs that act on VMs: stored only after the pre-flight gate took their locks. */
const GATED: ReadonlySet<ExecutionType> = new Set<ExecutionType>(['test', 'planned', 'unplanned']);

/**
 * A drill or failover is stored only by the gate (engine/client's submit: pre-flight, then the plan
 * and VM locks in one step): the plan lock must already be held by this execution. A caller that
 * skips the gate is refused here, before anything is written, rather than running a plan nobody
 * checked next to another execution of it.
 */
async function assertGated(redis: Redis, prefix: string, id: string, request: SubmitRequest): Promise<void> {
  if (!GATED.has(request.type)) return;
  const plan = request.plan.metadata.name;
  const holder = await readPlanLock(redis, prefix, plan);
  if (holder?.execution === id) return;
  throw new DrError(
    'NOT_GATED',
    `execution ${id} of plan '${plan}' was not submitted through the pre-flight gate (the plan lock is ${
      holder === undefined ? 'free' : `held by ${holder.execution}`
    }); submit drills and failovers with ExecutionClient.submit`,
    { details: { execution: id, plan } },
  );
}

/** Store a new execution and wake the orchestrators. Returns its id and whether it was new. */
export async function submitExecution(
  redis: Redis,
  prefix: string,
  request: SubmitRequest,
): Promise<{ id: string; created: boolean; epoch: number }> {
  const now = (request.now ?? Date.now)();
  const id = request.id ?? newExecutionId(request.type, now);
  await assertGated(redis, prefix, id, request);
  const keys = executionKeys(prefix, id);
  const global = globalKeys(prefix);
  const epoch = await redis.incr(global.epoch);
  const deadlineAt = request.type === 'test' ? now + request.plan.drill.maxDurationMs : undefined;
  const machine = persistExecution(initialExecutionSnapshot(request.type, deadlineAt));
  const createdAt = new Date(now).toISOString();
  const fields: [string, string][] = [
    [META.id, id],
    [META.type, request.type],
    [META.direction, request.direction],
    [META.planName, request.plan.metadata.name],
    [META.hash, request.hash],
    [META.by, request.by],
    [META.reason, request.reason],
    [META.epoch, String(epoch)],
    [META.createdAt, createdAt],
    [META.status, 'submitted'],
    [META.machine, machine],
    [META.total, String(request.stepsTotal)],
    [META.done, '0'],
    [META.cursor, '0'],
    [META.estimateMs, String(request.estimateMs)],
  ];
  if (request.recoveryPoint) fields.push([META.recoveryPoint, JSON.stringify(request.recoveryPoint)]);
  if (request.parent) fields.push([META.parent, request.parent]);
  if (request.approveManual) fields.push([META.approveManual, '1']);
  if (request.thenReprotect) {
    if (request.type !== 'planned' || request.direction !== 'failback') {
      throw new DrError(
        'NOT_A_FAILBACK',
        `execution ${id}: only a planned failback reprotects by itself (this is a ${request.type} ${request.direction} run)`,
        { exitCode: 2 },
      );
    }
    fields.push([META.thenReprotect, '1']);
  }
  if (request.protect) {
    if (request.type !== 'protect')
      throw new DrError(
        'NOT_A_PROTECT',
        `execution ${id}: only a protect execution carries a protect record`,
      );
    fields.push([META.protect, JSON.stringify(request.protect)]);
  }
  if (deadlineAt !== undefined) fields.push([META.deadlineAt, String(deadlineAt)]);
  if (request.recoveryPointGap)
    fields.push([META.recoveryPointGap, JSON.stringify(request.recoveryPointGap)]);
  if (request.automatic) fields.push([META.automatic, JSON.stringify(request.automatic)]);
  const event: EngineEvent = {
    v: EVENT_SCHEMA_VERSION,
    at: createdAt,
    type: 'execution-submitted',
    execution: id,
    plan: request.plan.metadata.name,
    hash: request.hash,
    executionType: request.type,
    by: request.by,
    reason: request.reason,
    epoch,
  };
  const created =
    (await SUBMIT.run(redis, [
      keys.meta,
      keys.events,
      keys.plan,
      JSON.stringify(event),
      JSON.stringify(request.plan),
      ...fields.flat(),
    ])) === 1;
  if (!created) {
    const existing = await redis.hget(keys.meta, META.epoch);
    return { id, created: false, epoch: Number(existing ?? 0) };
  }
  if (request.recoveryPointGap) {
    const gap: EngineEvent = {
      v: EVENT_SCHEMA_VERSION,
      at: createdAt,
      type: 'recovery-point-gap',
      execution: id,
      ...request.recoveryPointGap,
    };
    await redis.xadd(keys.events, '*', 'e', JSON.stringify(gap));
  }
  if (request.automatic) {
    const automatic: EngineEvent = {
      v: EVENT_SCHEMA_VERSION,
      at: createdAt,
      type: 'automatic-failover',
      execution: id,
      ...request.automatic,
    };
    await redis.xadd(keys.events, '*', 'e', JSON.stringify(automatic));
  }
  if (request.makeDurable) await request.makeDurable();
  const pipeline = redis.pipeline();
  pipeline.zadd(global.executions, now, id);
  pipeline.zadd(global.active, now, id);
  if (deadlineAt !== undefined) pipeline.zadd(global.deadlines, deadlineAt, id);
  pipeline.publish(global.wake, id);
  await pipeline.exec();
  return { id, created: true, epoch };
}
