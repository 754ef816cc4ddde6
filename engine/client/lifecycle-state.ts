/**
 * What a follower of a lifecycle operation reads of it (the CLI's waits and summaries, the API's
 * GET /executions/:id/lifecycle): its status, its lifecycle record, and a reprotect's resync.
 */
import type { Redis } from 'ioredis';
import {
  type ExecutionStatus,
  type ExecutionType,
  executionKeys,
  type LifecycleInfo,
  type LifecycleRunInfo,
  readEvents,
} from '../executor/index.ts';

/** Per VM of a reprotect: the resync the reverse needed, its estimate, and when it was healthy. */
export interface ResyncRow {
  vm: string;
  bytes?: number;
  estimateMs?: number;
  waitedMs?: number;
  health?: string;
}

/** What a follower of a failover or of a lifecycle execution reads of it. */
export interface LifecycleState {
  id: string;
  status: ExecutionStatus;
  type: ExecutionType;
  /** On a failover: its lifecycle executions, the pending cancel, what a commit covered. */
  lifecycle: LifecycleInfo;
  /** On a lifecycle execution: what it acts on and leaves out. */
  run?: LifecycleRunInfo;
  /** On a reprotect: every VM's replication is reversed (the resync may still run). */
  reversed?: boolean;
  /** On a reprotect, when asked for: each VM's resync. */
  resync?: ResyncRow[];
}

/** A failover's or lifecycle execution's state for a follower; undefined while it is not stored. */
export async function readLifecycleState(
  redis: Redis,
  prefix: string,
  id: string,
  options: { resync?: boolean } = {},
): Promise<LifecycleState | undefined> {
  const keys = executionKeys(prefix, id);
  const [status, type, lifecycle, run] = await redis.hmget(
    keys.meta,
    'status',
    'type',
    'lifecycle',
    'lifecycleRun',
  );
  if (status === null || type === null) return undefined;
  const state: LifecycleState = {
    id,
    status: status as ExecutionStatus,
    type: type as ExecutionType,
    lifecycle: lifecycle ? (JSON.parse(lifecycle) as LifecycleInfo) : { runs: [] },
  };
  if (run) state.run = JSON.parse(run) as LifecycleRunInfo;
  if (type === 'reprotect' && state.run !== undefined) {
    const vms = state.run.vms;
    const steps =
      vms.length === 0 ? [] : await redis.hmget(keys.steps, ...vms.map((vm) => `${vm}/reprotect`));
    // A step's state starts `q|` while it is queued or running (schedule's encoding).
    state.reversed = steps.every((s) => s !== null && !s.startsWith('q|'));
    if (options.resync) state.resync = await resyncRows(redis, prefix, id);
  }
  return state;
}

/** Per VM: the resync its reverse needed, its estimate, and how long replication took to be healthy. */
async function resyncRows(redis: Redis, prefix: string, id: string): Promise<ResyncRow[]> {
  const events = await readEvents(redis, prefix, id, { after: '0', count: 1_000_000 });
  const rows = new Map<string, ResyncRow>();
  for (const { event } of events) {
    if (event.type !== 'step-finished' || event.output === undefined) continue;
    const slash = event.step.lastIndexOf('/');
    const [vm, kind] = [event.step.slice(0, slash), event.step.slice(slash + 1)];
    const row = rows.get(vm) ?? { vm };
    if (kind === 'reprotect') {
      if (typeof event.output.resyncBytes === 'number') row.bytes = event.output.resyncBytes;
      if (typeof event.output.resyncEstimateMs === 'number') row.estimateMs = event.output.resyncEstimateMs;
    }
    if (kind === 'resync') {
      if (typeof event.output.waitedMs === 'number') row.waitedMs = event.output.waitedMs;
      if (typeof event.output.health === 'string') row.health = event.output.health;
    }
    rows.set(vm, row);
  }
  return [...rows.values()];
}
