/**
 * The end of a lifecycle execution, as the orchestrator that ran it records it (finish.ts): the
 * failover it acts on moves on (committed, cancelled, back to completed after a change of point,
 * reprotected, or the matching failed state), takes over the VMs' machines so that its own status
 * shows where each VM is, and a change of point brings the new points' data-loss claims. A completed cancel clears the VMs' failed-over records (engine/locks).
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../../common/index.ts';
import type { EngineEvent, ExecutionStatus } from '../../contract/index.ts';
import { isLifecycleType, type LifecycleType } from '../../contract/index.ts';
import { clearFailedOver, markFailedOver } from '../../locks/index.ts';
import { type ExecutionMachineEvent, persistVm, type VmSnapshot } from '../../machines/index.ts';
import { executionKeys } from '../keys.ts';
import { collectDataLoss, dataLossEvent } from './data-loss.ts';
import type { DataLossEntry, ExecutionRecord } from './execution-record.ts';
import { META } from './record.ts';
import { transitionExecution } from './transition.ts';

const END_EVENT: Record<
  LifecycleType,
  { ok: ExecutionMachineEvent['type']; failed: ExecutionMachineEvent['type'] }
> = {
  commit: { ok: 'COMMIT_DONE', failed: 'COMMIT_FAILED' },
  'change-point': { ok: 'CHANGE_POINT_DONE', failed: 'CHANGE_POINT_FAILED' },
  cancel: { ok: 'CANCEL_DONE', failed: 'CANCEL_FAILED' },
  reprotect: { ok: 'REPROTECT_DONE', failed: 'REPROTECT_FAILED' },
};

/**
 * The VMs a cancel brought back up at the recovery site (machine `returned`) are failed over there
 * again, under the cancel's return epoch: the source's agent fences an old primary found running
 * when its site is back under that epoch (handlers/fence-sweep.ts), which a restore of the cancel
 * (its older epoch) could not have lifted.
 */
async function markReturned(
  deps: LifecycleSettleDeps,
  record: ExecutionRecord,
  vms: readonly { name: string; snapshot: VmSnapshot }[],
  at: string,
  toSite: string,
): Promise<void> {
  const returned = vms.filter((v) => v.snapshot.value === 'returned').map((v) => v.name);
  if (returned.length === 0) return;
  const raw = await deps.redis.hget(executionKeys(deps.prefix, record.id).meta, META.returnEpoch);
  const epoch = Number(raw);
  await markFailedOver(deps.redis, deps.prefix, returned, {
    plan: record.planName,
    execution: record.id,
    site: toSite,
    direction: record.direction,
    at,
    ...(Number.isSafeInteger(epoch) && epoch > 0 ? { epoch } : {}),
  });
}

export interface LifecycleSettleDeps {
  redis: Redis;
  prefix: string;
  log: Logger;
}

/** What the lifecycle execution adds to its own final write. */
export interface LifecycleSettled {
  meta: [string, string][];
  events: EngineEvent[];
}

/**
 * Settle the failover of lifecycle execution `record` (a no-op for other executions). Runs before
 * the execution records itself finished, so whoever sees it finished sees its failover moved on;
 * running it again on a resumed orchestrator is harmless (the failover's machine refuses a second
 * end event).
 */
export async function settleLifecycle(
  deps: LifecycleSettleDeps,
  record: ExecutionRecord,
  status: ExecutionStatus,
  vms: readonly { name: string; snapshot: VmSnapshot }[],
  now: number,
  fromSite = '',
  toSite = '',
): Promise<LifecycleSettled> {
  const settled: LifecycleSettled = { meta: [], events: [] };
  const type = record.type;
  if (!isLifecycleType(type) || record.parent === undefined) return settled;
  const parent = record.parent;
  const ok = status === 'completed';
  const at = new Date(now).toISOString();
  const extra: [string, string][] = [];

  if (type === 'change-point') {
    // The claims of the failovers from the new point (change-point handler).
    const dataLoss = collectDataLoss(vms);
    if (dataLoss.length > 0) {
      settled.meta.push([META.dataLoss, JSON.stringify(dataLoss)]);
      settled.events.push(dataLossEvent(record.id, at, dataLoss));
      const previous = await deps.redis.hget(executionKeys(deps.prefix, parent).meta, META.dataLoss);
      const merged = new Map<string, DataLossEntry>(
        (previous ? (JSON.parse(previous) as DataLossEntry[]) : []).map((d) => [d.vm, d]),
      );
      for (const entry of dataLoss) merged.set(entry.vm, entry);
      extra.push([META.dataLoss, JSON.stringify([...merged.values()])]);
    }
  }
  if (type === 'cancel') {
    // Home: every VM of a completed cancel; of one that did not complete, those rolled back.
    const names = vms.filter((v) => ok || v.snapshot.value === 'rolledBack').map((v) => v.name);
    await markReturned(deps, record, vms, at, toSite);
    if (names.length === 0) {
      // None came home: their records stand.
    } else if (record.direction === 'forward') {
      // The VMs are back at their source: another failover of them may run again.
      await clearFailedOver(deps.redis, deps.prefix, names, record.planName);
    } else {
      // A failback rolled back: the VMs run at the plan's target again, failed over as before.
      await markFailedOver(deps.redis, deps.prefix, names, {
        plan: record.planName,
        execution: parent,
        site: fromSite,
        direction: 'forward',
        at,
      });
    }
  }
  if (vms.length > 0) {
    const fields: string[] = [];
    for (const vm of vms) fields.push(vm.name, persistVm(vm.snapshot));
    await deps.redis.hset(executionKeys(deps.prefix, parent).vms, ...fields);
  }
  const names = END_EVENT[type];
  const event = (
    ok ? { type: names.ok, now } : { type: names.failed, now, error: `${record.id} ${status}` }
  ) as ExecutionMachineEvent;
  const moved = await transitionExecution(deps.redis, deps.prefix, parent, event, extra);
  if (moved === undefined)
    deps.log.debug({ parent, event: event.type }, 'failover already settled by this execution');
  return settled;
}
