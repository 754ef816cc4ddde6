import type { LockHolder } from '../../locks/index.ts';
import type { EvalContext } from '../context.ts';

/**
 * Nobody else owns the plan or its VMs: no other execution holds the plan lock or a VM lock, and no
 * plan has failed a VM over (the durable record) without it coming back. The execution being
 * checked may hold its own locks (a resumed execution).
 *
 * A record written by this plan is expected on failback; on a forward run, or a drill, any record
 * means the VM is not where a forward run expects it.
 */
export function checkOwnership(ctx: EvalContext): void {
  const { planLock, locks, failedOver } = ctx.inventory;
  const mine = (holder: LockHolder) =>
    ctx.settings.execution !== undefined && holder.execution === ctx.settings.execution;
  if (planLock !== undefined && !mine(planLock)) {
    ctx.block('PLAN_LOCKED', {
      path: 'metadata.name',
      message: `plan '${ctx.plan.metadata.name}' is being run by execution ${holderText(planLock)}`,
      hint:
        planLock.operation === 'test'
          ? `a drill holds its plan until its cleanup: \`drctl cleanup ${planLock.execution}\``
          : 'wait for it to finish, resume it, or cancel it; an operator can free a dead execution with drctl locks release',
      details: { execution: planLock.execution },
    });
  }
  for (const vm of ctx.selected) {
    const holder = locks.get(vm.name);
    if (holder !== undefined && !mine(holder)) {
      ctx.block('VM_LOCKED', {
        vm: vm.name,
        message: `VM '${vm.name}' is locked by execution ${holderText(holder)}`,
        hint:
          holder.operation === 'test'
            ? `a drill keeps its VMs until its cleanup: \`drctl cleanup ${holder.execution}\`, or leave the VM out of this run (--vms)`
            : 'one operation per VM at a time: wait for that execution, or leave the VM out of this run (--vms)',
        details: { execution: holder.execution, plan: holder.plan },
      });
    }
    if (ctx.excluded.has(vm.name)) continue; // already named by the replication check
    const record = failedOver.get(vm.name);
    if (record === undefined) continue;
    const expected = ctx.settings.direction === 'failback' && record.plan === ctx.plan.metadata.name;
    if (expected) continue;
    const other = record.plan !== ctx.plan.metadata.name;
    ctx.block('ALREADY_FAILED_OVER', {
      vm: vm.name,
      site: record.site,
      message: `VM '${vm.name}' was failed over to '${record.site}' by ${other ? `another plan, '${record.plan}'` : 'this plan'} (execution ${record.execution}${record.at === '' ? '' : ` at ${record.at}`})`,
      hint: other
        ? `fail it back with plan '${record.plan}', or remove it from one of the plans`
        : `it already runs at '${record.site}': leave it out of this run (--vms the others), or fail it back (or commit and reprotect it) before failing it over again`,
      details: { plan: record.plan, execution: record.execution },
    });
  }
}

function holderText(holder: LockHolder): string {
  const op = holder.operation === undefined ? '' : `, ${holder.operation}`;
  const since = holder.since === '' ? '' : ` since ${holder.since}`;
  return `${holder.execution} (plan '${holder.plan}'${op}${since})`;
}
