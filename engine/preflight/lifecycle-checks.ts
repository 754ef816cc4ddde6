/**
 * Each lifecycle operation's checks (pure, from one inventory read), called by evaluateLifecycle
 * (lifecycle.ts). Every blocker names the VM (or site) and what to do.
 */
import { pointFor, type VmView } from '../hosts/index.ts';
import { describeChoice } from './checks/recovery-point.ts';
import { type LifecycleEval, type Site, where } from './lifecycle-context.ts';

/**
 * The replica at the target must be a failover not yet committed: committed (Complete-VMFailover
 * discarded the other points) or reversed is past the point of no return. Returns the view when
 * the VM may go on.
 */
function uncommittedReplica(ctx: LifecycleEval, to: Site, vm: string, instead: string): VmView | undefined {
  const view = to.vms.get(vm);
  const site = ctx.check.toSite;
  if (view === undefined) {
    ctx.block(
      'VM_NOT_FOUND',
      vm,
      site,
      `${vm} is not listed at ${site}: its host is down or the VM is gone`,
      `bring its host back (see the host's console; on the simulator \`drctl sim status\`), then run the ${ctx.check.operation} again`,
    );
    return undefined;
  }
  const repl = view.replication;
  if (repl !== null && (repl.state === 'FailedOver' || repl.mode === 'Primary')) {
    ctx.block(
      'PAST_POINT_OF_NO_RETURN',
      vm,
      site,
      `${vm} at ${site} is ${repl.state === 'FailedOver' ? 'committed' : 'the primary of a reversed replication'} (${where(view)}): its other recovery points are gone`,
      instead,
    );
    return undefined;
  }
  if (repl?.state !== 'FailedOverWaitingCompletion') {
    ctx.block(
      'NOT_FAILED_OVER',
      vm,
      site,
      `${vm} at ${site} has no failover waiting for completion (${where(view)})`,
      'look at where it runs (`drctl status`); only a failed-over VM takes this operation',
    );
    return undefined;
  }
  return view;
}

/**
 * Change of point: every VM must be a failed-over replica not yet committed, on a host that
 * answers, with a recovery point that matches the one asked for. One VM without a match blocks
 * them all: the operator asked for one point for the whole plan.
 */
export function checkChangePoint(ctx: LifecycleEval, to: Site): void {
  const choice = ctx.check.recoveryPoint ?? { kind: 'latest' };
  for (const vm of ctx.check.vms) {
    const view = uncommittedReplica(
      ctx,
      to,
      vm,
      'the point can no longer be changed; the way back is a failback (`drctl reprotect`, then `drctl failback`)',
    );
    if (view === undefined) continue;
    const read = ctx.inventory.recoveryPoints.get(vm);
    if (read === undefined || !read.ok) {
      ctx.block(
        'NO_RECOVERY_POINT',
        vm,
        ctx.check.toSite,
        `the recovery points of ${vm} at ${ctx.check.toSite} cannot be read${read && !read.ok ? ` (${read.error.code}: ${read.error.message})` : ''}`,
        'run the change of point again once the host answers',
      );
      continue;
    }
    const point = pointFor(choice, read.points);
    if (point === undefined) {
      const oldest = read.points.at(-1);
      ctx.block(
        'NO_RECOVERY_POINT',
        vm,
        ctx.check.toSite,
        `${vm} at ${ctx.check.toSite} has no recovery point matching ${describeChoice(choice)} (${read.points.length} point(s)${oldest ? `, oldest ${oldest.time}` : ''})`,
        `pick a point every VM has (\`drctl preflight --exact-points\` lists them), or leave ${vm} as it is`,
      );
      continue;
    }
    ctx.rows.push({
      vm,
      runs: where(view),
      action: `off, Stop-VMFailover, fail over from ${point.id} @ ${point.time}, boot`,
      recoveryPoint: point,
    });
  }
}

/**
 * Commit: every VM failed over (or already committed) and up (Running, guest heartbeat Ok):
 * Complete-VMFailover discards the other recovery points, so a VM that does not run would be left
 * with none to try. With --partial, such VMs are left out and named instead.
 */
export function checkCommit(ctx: LifecycleEval, to: Site): void {
  const site = ctx.check.toSite;
  for (const vm of ctx.check.vms) {
    const view = to.vms.get(vm);
    const repl = view?.replication;
    if (view !== undefined && repl && (repl.state === 'FailedOver' || repl.mode === 'Primary')) {
      ctx.rows.push({ vm, runs: where(view), action: 'already committed: nothing to do' });
      continue;
    }
    const replica =
      view === undefined || repl?.state !== 'FailedOverWaitingCompletion'
        ? uncommittedReplica(ctx, to, vm, '')
        : view;
    if (replica === undefined) continue;
    if (replica.state !== 'Running' || replica.heartbeat !== 'Ok') {
      const reason = `${vm} at ${site} is not up (${where(replica)}, heartbeat ${replica.heartbeat})`;
      if (ctx.check.partial) {
        ctx.leftOut.push({ vm, reason });
        ctx.warn(
          'VM_NOT_UP',
          vm,
          site,
          `${reason}: left out of the partial commit`,
          'it keeps its recovery points; start it, change its point or cancel it',
        );
      } else {
        ctx.block(
          'VM_NOT_UP',
          vm,
          site,
          `${reason}: committing would discard its other recovery points while it does not run`,
          `start it or change its point first, or commit the others with \`drctl commit ${ctx.check.execution} --partial\``,
        );
      }
      continue;
    }
    ctx.rows.push({
      vm,
      runs: where(replica),
      action: 'Complete-VMFailover (its other recovery points are discarded)',
      ...(replica.recoveryPoint ? { recoveryPoint: replica.recoveryPoint } : {}),
    });
  }
}

/**
 * Cancel: the replica is turned off and returned to replica state, then the primary is started at
 * the source. So each primary must be restartable: its site and host answer, it is still the
 * primary, no later execution fenced it, its host has room. A VM whose failed-over replica runs
 * while its primary cannot be restarted (an unplanned failover's lost source) blocks: the cancel
 * would turn off the only running copy. One whose replica does not run either is a warning: it
 * runs nowhere before and after.
 */
export function checkCancel(ctx: LifecycleEval, to: Site): void {
  const { fromSite, toSite } = ctx.check;
  const needs = new Map<string, { slots: number; memoryMb: number; vms: string[] }>();
  for (const vm of ctx.check.vms) {
    const replica = to.vms.get(vm);
    if (replica === undefined) {
      ctx.block(
        'VM_NOT_FOUND',
        vm,
        toSite,
        `${vm} is not listed at ${toSite}: its failover there cannot be cancelled (its host is down?)`,
        `bring its host at ${toSite} back, then cancel again`,
      );
      continue;
    }
    const repl = replica.replication;
    if (repl !== null && (repl.state === 'FailedOver' || repl.mode === 'Primary')) {
      ctx.block(
        'PAST_POINT_OF_NO_RETURN',
        vm,
        toSite,
        `${vm} at ${toSite} is ${repl.state === 'FailedOver' ? 'committed' : 'the primary of a reversed replication'} (${where(replica)})`,
        'it cannot be rolled back; fail back instead (`drctl reprotect`, then `drctl failback`)',
      );
      continue;
    }
    const runsAtTarget = replica.state !== 'Off' && repl?.state === 'FailedOverWaitingCompletion';
    const primary = ctx.from?.vms.get(vm);
    const cannot =
      ctx.from === undefined
        ? `site ${fromSite} cannot be reached${ctx.inventory.from.ok ? '' : ` (${ctx.inventory.from.error.code})`}`
        : primary === undefined
          ? `its primary is not listed at ${fromSite} (its host is down?)`
          : primaryRefusal(ctx, primary);
    if (cannot !== undefined) {
      if (runsAtTarget) {
        ctx.block(
          'ONLY_RUNNING_COPY',
          vm,
          fromSite,
          `${vm} runs at ${toSite} (${where(replica)}) and its primary cannot be restarted: ${cannot}; a cancel would turn off the only running copy`,
          `keep the failover (commit it, or change its point) and fail back later; or cancel once ${fromSite} can restart it`,
        );
      } else {
        ctx.warn(
          'PRIMARY_NOT_RESTARTABLE',
          vm,
          fromSite,
          `${vm} runs nowhere now and its primary cannot be restarted: ${cannot}; the cancel returns its replica to replica state and leaves the primary to be started when ${fromSite} is back`,
          `start it at ${fromSite} when the site is back`,
        );
        ctx.rows.push({ vm, runs: 'nowhere', action: `revert at ${toSite}; primary not restarted` });
      }
      continue;
    }
    if (primary === undefined) continue;
    if (primary.state === 'Off') {
      const need = needs.get(primary.host) ?? { slots: 0, memoryMb: 0, vms: [] };
      need.slots += 1;
      need.memoryMb += primary.memoryMb;
      need.vms.push(vm);
      needs.set(primary.host, need);
    }
    ctx.rows.push({
      vm,
      runs: runsAtTarget ? where(replica) : primary.state === 'Off' ? 'nowhere' : where(primary),
      action: `${repl?.state === 'FailedOverWaitingCompletion' ? `off and Stop-VMFailover at ${toSite}, then ` : ''}start at ${fromSite}/${primary.host}`,
    });
  }
  for (const [hostName, need] of needs) {
    const host = ctx.from?.hosts.get(hostName);
    if (host === undefined || !host.powered) {
      for (const vm of need.vms)
        ctx.block(
          'HOST_DOWN',
          vm,
          fromSite,
          `host ${hostName} at ${fromSite}, where the primary of ${vm} runs, is down`,
          `bring ${hostName} back, then cancel again`,
        );
      continue;
    }
    if (host.usedSlots + need.slots > host.vmSlots || host.usedMemoryMb + need.memoryMb > host.memoryMb) {
      for (const vm of need.vms)
        ctx.block(
          'INSUFFICIENT_CAPACITY',
          vm,
          fromSite,
          `host ${hostName} at ${fromSite} has no room to restart ${need.vms.length} primary VM(s) (${host.usedSlots}+${need.slots}/${host.vmSlots} slots, ${host.usedMemoryMb}+${need.memoryMb}/${host.memoryMb} MB)`,
          `free room on ${hostName}, then cancel again`,
        );
    }
  }
}

/** Why Start-VM would refuse the primary at the source, or undefined. */
function primaryRefusal(ctx: LifecycleEval, primary: VmView): string | undefined {
  const repl = primary.replication;
  if (repl !== null && repl.mode !== 'Primary')
    return `it is no longer the primary at ${primary.site} (${where(primary)}): the replication was reversed`;
  if (primary.epoch > ctx.check.failoverEpoch)
    return `a later execution (epoch ${primary.epoch}, this failover's is ${ctx.check.failoverEpoch}) acted on it at ${primary.site}`;
  return undefined;
}

/**
 * Reprotect: Set-VMReplication -Reverse on each failed-over VM needs its former primary's site
 * and host to answer and that primary to be off (Hyper-V refuses to reverse onto a running VM).
 * After a planned failover nothing needs resending; after an unplanned one the writes either side
 * made after the fork are resynchronized, a size the hosts only report when the reverse runs.
 */
export function checkReprotect(ctx: LifecycleEval, to: Site): void {
  const { fromSite, toSite } = ctx.check;
  if (ctx.from === undefined) {
    ctx.block(
      'SOURCE_UNREACHABLE',
      undefined,
      fromSite,
      `site ${fromSite}, the former primary site, cannot be reached${ctx.inventory.from.ok ? '' : ` (${ctx.inventory.from.error.code}: ${ctx.inventory.from.error.message})`}: replication cannot be reversed towards it`,
      `the VMs keep running at ${toSite}; reprotect once ${fromSite} is back`,
    );
  }
  for (const vm of ctx.check.vms) {
    const view = to.vms.get(vm);
    const repl = view?.replication;
    if (view !== undefined && repl && repl.mode === 'Primary' && repl.replicaSite === fromSite) {
      ctx.rows.push({ vm, runs: where(view), action: 'already reversed: follow until healthy' });
      continue;
    }
    if (
      view === undefined ||
      (repl?.state !== 'FailedOverWaitingCompletion' && repl?.state !== 'FailedOver')
    ) {
      if (view === undefined) {
        ctx.block(
          'VM_NOT_FOUND',
          vm,
          toSite,
          `${vm} is not listed at ${toSite}: its host is down or the VM is gone`,
          `bring its host back, then reprotect again`,
        );
      } else {
        ctx.block(
          'NOT_FAILED_OVER',
          vm,
          toSite,
          `${vm} at ${toSite} has not failed over (${where(view)}); only a failed-over VM can be reprotected`,
          'look at where it runs (`drctl status`)',
        );
      }
      continue;
    }
    if (ctx.from === undefined) continue;
    const old = ctx.from.vms.get(vm);
    if (old === undefined) {
      ctx.block(
        'HOST_DOWN',
        vm,
        fromSite,
        `the former primary of ${vm} is not listed at ${fromSite}: its host is down (or the VM is gone); it would become the replica`,
        `bring its host at ${fromSite} back, then reprotect again`,
      );
      continue;
    }
    if (old.state !== 'Off') {
      ctx.block(
        'NOT_REVERSIBLE',
        vm,
        fromSite,
        `the former primary of ${vm} at ${fromSite} is ${old.state} (${where(old)}): Hyper-V reverses replication only onto a VM that is off`,
        `it runs in two sites: see \`drctl status\`; turn it off (or fence it) at ${fromSite}, then reprotect`,
      );
      continue;
    }
    ctx.rows.push({
      vm,
      runs: where(view),
      action: `Set-VMReplication -Reverse towards ${fromSite}/${old.host}`,
      ...(ctx.check.failoverType === 'planned' ? { resyncBytes: 0 } : {}),
    });
  }
}
