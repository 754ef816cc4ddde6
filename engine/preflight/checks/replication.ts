import { formatApproxDuration } from '../../common/index.ts';
import type { VmView } from '../../hosts/index.ts';
import type { EvalContext } from '../context.ts';

const RESYNC_STATES = new Set(['WaitingForStartResynchronize', 'Resynchronizing']);
const FAILED_OVER_STATES = new Set(['FailedOverWaitingCompletion', 'FailedOver']);

/**
 * Per selected VM, on the site it fails over to: the replica exists, replicates from the site it
 * fails over from, is not failed over already, needs no resync, is not Critical, and its host is
 * up. For a planned failover the primary must be reachable as well (it is shut down and
 * drained first).
 *
 * Critical health is a blocker, with one exception: an unplanned failover whose source site cannot
 * be reached. Replication stops when the primary site is lost, so every replica turns Critical;
 * that is the failover's reason, not a reason to refuse it (a warning says the data is as old as
 * the recovery point).
 */
export function checkReplication(ctx: EvalContext): void {
  const { type } = ctx.settings;
  if (ctx.sourceUnreachable) {
    const read = ctx.inventory.from;
    const reason =
      read !== undefined && !read.ok ? `${read.error.code}: ${read.error.message}` : 'unreachable';
    const input = {
      path: ctx.fromSitePath,
      site: ctx.fromSite,
      message: `source site '${ctx.fromSite}' cannot be read (${reason})`,
      hint:
        type === 'planned'
          ? 'a planned failover shuts the VMs down at the source and sends every pending write first; restore the source site, or run an unplanned failover'
          : 'an unplanned failover proceeds without the source; VMs lose the writes not yet replicated',
    };
    if (type === 'planned') ctx.block('SOURCE_UNREACHABLE', input);
    else ctx.warn('SOURCE_UNREACHABLE', input);
  }
  const to = ctx.to;
  if (to === undefined) return;

  for (const vm of ctx.selected) {
    const view = to.vms.get(vm.name);
    if (view === undefined) {
      ctx.excluded.add(vm.name);
      ctx.block('VM_NOT_FOUND', {
        vm: vm.name,
        site: ctx.toSite,
        message: `VM '${vm.name}' has no replica at site '${ctx.toSite}'`,
        hint: `enable replication of '${vm.name}' to '${ctx.toSite}' (Enable-VMReplication), or remove it from the plan`,
      });
      continue;
    }
    if (checkAlreadyFailedOver(ctx, vm.name, view)) continue;
    checkRelationship(ctx, vm.name, view);
    checkHost(ctx, vm.name, view);
    if (type === 'test' && to.testVms.has(vm.name)) {
      ctx.block('TEST_VM_EXISTS', {
        vm: vm.name,
        site: ctx.toSite,
        host: to.testVms.get(vm.name)?.host,
        message: `a test failover of '${vm.name}' already exists at '${ctx.toSite}' (a drill is running or was not cleaned up)`,
        hint: 'clean up the previous drill first (drctl cleanup / Stop-VMFailover -Test)',
      });
    }
    if (type === 'planned') checkPrimary(ctx, vm.name);
  }
  if (type === 'unplanned') checkPrimariesStillRunning(ctx);
}

/** The simulator's own word: the replica at the target is already the VM. */
function checkAlreadyFailedOver(ctx: EvalContext, vm: string, view: VmView): boolean {
  const replication = view.replication;
  const failedOver =
    (replication !== null && FAILED_OVER_STATES.has(replication.state)) ||
    (replication?.mode === 'Primary' && replication.primarySite === ctx.toSite);
  if (!failedOver) return false;
  ctx.excluded.add(vm);
  const record = ctx.inventory.failedOver.get(vm);
  const by =
    record === undefined
      ? ''
      : ` by plan '${record.plan}' (execution ${record.execution}${record.at === '' ? '' : ` at ${record.at}`})`;
  ctx.block('ALREADY_FAILED_OVER', {
    vm,
    site: ctx.toSite,
    host: view.host,
    message: `VM '${vm}' is already failed over to '${ctx.toSite}'${by} (state ${replication?.state ?? 'no replication'}, ${view.state})`,
    hint:
      ctx.settings.direction === 'forward'
        ? 'commit and reprotect it (reverse replication), then fail it back with `drctl failback <plan>`; or leave it out of this run (--vms)'
        : 'it already runs at the home site; reprotect it before another failback',
    details:
      record === undefined
        ? { state: replication?.state ?? 'none' }
        : { plan: record.plan, execution: record.execution },
  });
  return true;
}

function checkRelationship(ctx: EvalContext, vm: string, view: VmView): void {
  const replication = view.replication;
  const base = { vm, site: ctx.toSite, host: view.host };
  if (
    replication === null ||
    replication.mode === 'None' ||
    replication.state === 'Disabled' ||
    replication.replicaSite !== ctx.toSite ||
    replication.primarySite !== ctx.fromSite
  ) {
    const actual =
      replication === null || replication.state === 'Disabled'
        ? 'replication is not enabled'
        : `it replicates ${replication.primarySite} → ${replication.replicaSite} (${replication.mode})`;
    ctx.block('NOT_REPLICATING_TO_TARGET', {
      ...base,
      message: `VM '${vm}' does not replicate ${ctx.fromSite} → ${ctx.toSite}: ${actual}`,
      hint:
        ctx.settings.direction === 'failback'
          ? 'reprotect first: reverse replication (Set-VMReplication -Reverse) so the VM replicates back home'
          : `enable replication to '${ctx.toSite}' (Enable-VMReplication) and wait for the initial copy`,
    });
    return;
  }
  if (replication.resyncRequired || RESYNC_STATES.has(replication.state)) {
    ctx.block('RESYNC_REQUIRED', {
      ...base,
      message: `VM '${vm}' needs a resynchronization (state ${replication.state}${replication.resyncRequired ? ', change log too large' : ''})`,
      hint: 'run Resume-VMReplication -Resynchronize and wait for it to finish; recovery points are not trustworthy until then',
    });
    return; // its health is Critical or Warning because of the resync: one blocker says it all
  }
  const health = worstHealth(replication.health, ctx.from?.vms.get(vm)?.replication?.health);
  if (replication.state === 'Error' || health === 'Critical') {
    const lost = ctx.settings.type === 'unplanned' && ctx.sourceUnreachable;
    const input = {
      ...base,
      message: `replication of VM '${vm}' is Critical (state ${replication.state}, last replicated ${replication.lastReplicationTime ?? 'never'})`,
      hint: lost
        ? 'expected with the source site lost: the VM fails over to its last recovery point'
        : 'fix replication first (Measure-VMReplication shows why: link down, replica host storage, missed cycles)',
    };
    if (lost) ctx.warn('REPLICATION_CRITICAL_SOURCE_LOST', input);
    else ctx.block('REPLICATION_CRITICAL', input);
  } else if (health === 'Warning') {
    ctx.warn('REPLICATION_WARNING', {
      ...base,
      message: `replication of VM '${vm}' is in Warning health (missed cycles)`,
      hint: 'check Measure-VMReplication; the recovery point may be older than usual',
    });
  }
  checkBehind(ctx, vm, view);
  if (replication.state === 'Suspended') {
    const input = {
      ...base,
      message: `replication of VM '${vm}' is suspended`,
      hint: 'resume it (Resume-VMReplication); a planned failover has to send every pending write',
    };
    if (ctx.settings.type === 'planned') ctx.block('REPLICATION_SUSPENDED', input);
    else ctx.warn('REPLICATION_SUSPENDED', input);
  }
}

/**
 * Replication that had not delivered a cycle for 3 intervals (at least 2 min) when the target was
 * read is not flowing: the link is down or too slow. A planned failover needs it to send every
 * pending write after the shutdown, so there it is a blocker (else the plan would stop the
 * primaries and then fail); otherwise a warning, the RPO check judges the data loss.
 */
function checkBehind(ctx: EvalContext, vm: string, view: VmView): void {
  const replication = view.replication;
  if (
    replication === null ||
    replication.state !== 'Replicating' ||
    replication.lastReplicationTime === undefined
  )
    return;
  // Judged as of when the target's data was read: a copy (the vault) a few seconds old must not
  // count those seconds as a missed cycle (on a 50× simulated clock they are minutes).
  const to = ctx.inventory.to;
  const readAt = to.ok && to.asOf !== undefined ? Date.parse(to.asOf.asOf) : ctx.inventory.now.getTime();
  const ageMs = readAt - Date.parse(replication.lastReplicationTime);
  const limitMs = Math.max(3 * replication.frequencySec * 1000, 120_000);
  if (!(ageMs > limitMs)) return;
  const input = {
    vm,
    site: ctx.toSite,
    host: view.host,
    message: `replication of VM '${vm}' is not flowing: last cycle ${formatApproxDuration(ageMs)} ago, every ${formatApproxDuration(replication.frequencySec * 1000)} expected`,
    hint:
      ctx.settings.type === 'planned'
        ? `a planned failover must send the pending writes over the ${ctx.fromSite} → ${ctx.toSite} link: restore it first`
        : `check the ${ctx.fromSite} → ${ctx.toSite} link (Measure-VMReplication)`,
    details: { ageMs, frequencySec: replication.frequencySec },
  };
  if (ctx.settings.type === 'planned') ctx.block('REPLICATION_BEHIND', input);
  else ctx.warn('REPLICATION_BEHIND', input);
}

function checkHost(ctx: EvalContext, vm: string, view: VmView): void {
  const host = ctx.to?.hosts.get(view.host);
  if (host?.powered === true) return;
  ctx.block('HOST_DOWN', {
    vm,
    site: ctx.toSite,
    host: view.host,
    message: `the replica of '${vm}' is on host '${view.host}', which is ${host === undefined ? 'unknown' : 'powered off'}`,
    hint: `power the host on, or move the replica (Move-VM) to a running host in '${ctx.toSite}'`,
  });
}

function checkPrimary(ctx: EvalContext, vm: string): void {
  if (ctx.from === undefined) return;
  const primary = ctx.from.vms.get(vm);
  if (primary !== undefined) return;
  ctx.block('VM_NOT_FOUND', {
    vm,
    site: ctx.fromSite,
    message: `VM '${vm}' was not found at the source site '${ctx.fromSite}'`,
    hint: 'a planned failover shuts the primary down first; check the VM name, or run an unplanned failover',
  });
}

/**
 * An unplanned failover while primaries still run at a reachable source: the engine fences them
 * before it starts the replicas, but writes since their last cycle are lost, which a planned
 * failover would not lose. One warning for all of them (a site-wide condition), naming a few.
 */
function checkPrimariesStillRunning(ctx: EvalContext): void {
  const from = ctx.from;
  if (from === undefined) return;
  const running = ctx.selected
    .filter((vm) => from.vms.get(vm.name)?.state === 'Running')
    .map((vm) => vm.name);
  if (running.length === 0) return;
  const first = running[0] ?? '';
  ctx.warn('PRIMARY_RUNNING', {
    ...(running.length === 1 ? { vm: first } : {}),
    site: ctx.fromSite,
    path: running.length === 1 ? ctx.vmPath(first) : ctx.fromSitePath,
    message: `${running.length} VM(s) still run at the source '${ctx.fromSite}' (${running.slice(0, 5).join(', ')}${running.length > 5 ? ', ...' : ''}); an unplanned failover fences them and loses the writes since their last replication cycle`,
    hint: 'while the source is healthy, a planned failover loses nothing',
    details: { running: running.length },
  });
}

function worstHealth(
  a: 'Normal' | 'Warning' | 'Critical',
  b: 'Normal' | 'Warning' | 'Critical' | undefined,
): 'Normal' | 'Warning' | 'Critical' {
  const rank = { Normal: 0, Warning: 1, Critical: 2 } as const;
  return b !== undefined && rank[b] > rank[a] ? b : a;
}
