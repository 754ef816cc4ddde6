import { assertNever, formatApproxDuration } from '../../common/index.ts';
import { claimDataLoss, type PrimarySighting } from '../../contract/index.ts';
import type { RecoveryPoint, VmView } from '../../hosts/index.ts';
import type { PlanVm, RecoveryPointChoice } from '../../plan/types.ts';
import type { EvalContext } from '../context.ts';
import type { PlannedPoint } from '../types.ts';

/** The choice a VM fails over with: its own override, else the run's (`--recovery-point`), else the plan's. */
/**
 * The point the run will use, chosen as the engine chooses it (engine/executor's job data and the
 * failover handler): a planned failover always takes `latest` (the prepared primary sent every
 * write); otherwise the run-time choice (`--recovery-point`), else the VM's own, else the plan's.
 */
export function effectiveChoice(vm: PlanVm, ctx: EvalContext): { choice: RecoveryPointChoice; path: string } {
  if (ctx.settings.type === 'planned') return { choice: { kind: 'latest' }, path: ctx.vmPath(vm.name) };
  if (ctx.settings.recoveryPoint !== undefined)
    return { choice: ctx.settings.recoveryPoint, path: ctx.vmPath(vm.name) };
  if (vm.recoveryPoint !== undefined)
    return { choice: vm.recoveryPoint, path: `${ctx.vmPath(vm.name)}.recoveryPoint` };
  return { choice: ctx.plan.recoveryPoint, path: 'spec.recoveryPoint' };
}

export function describeChoice(choice: RecoveryPointChoice): string {
  return choice.kind === 'at' ? `at ${choice.at}` : choice.kind;
}

/**
 * Resolves a choice against Get-VMSnapshot's list (newest first, `latest` first), as Hyper-V
 * would. `latestProcessed` (the last applied point) is not in the list: the newest received point
 * bounds it from above, so the placement is marked approximate.
 */
export function resolvePoint(
  choice: RecoveryPointChoice,
  points: readonly RecoveryPoint[],
): { point: RecoveryPoint; approximate: boolean } | undefined {
  switch (choice.kind) {
    case 'latest': {
      const point = points[0];
      return point === undefined ? undefined : { point, approximate: false };
    }
    case 'latestProcessed': {
      const point = points[0];
      return point === undefined ? undefined : { point, approximate: point.kind === 'latest' };
    }
    case 'latestAppConsistent': {
      const point = points.find((p) => p.kind === 'appConsistent');
      return point === undefined ? undefined : { point, approximate: false };
    }
    case 'at': {
      const at = Date.parse(choice.at);
      const point = points.find((p) => p.kind !== 'latest' && Date.parse(p.time) <= at);
      return point === undefined ? undefined : { point, approximate: false };
    }
    default:
      return assertNever(choice, 'recovery point choice');
  }
}

/**
 * A recovery point that meets the VM's choice must exist at the target, and be younger than the
 * plan's RPO target. Exemptions, because the point's age does not measure replication there:
 * - a planned failover sends every pending write before it fails over, so it loses nothing;
 * - an `at` choice: the operator picked an old point on purpose;
 * - `latestAppConsistent` only warns: its age follows the VSS schedule (every n hours), and
 *   choosing it means accepting that; the warning says how much newer `latest` would be.
 *
 * Returns the point each VM would get, for the placement.
 */
export function checkRecoveryPoints(ctx: EvalContext): Map<string, PlannedPoint> {
  const out = new Map<string, PlannedPoint>();
  const now = ctx.inventory.now.getTime();
  const rpoMs = ctx.plan.targets.rpoMs;
  for (const vm of ctx.selected) {
    if (ctx.excluded.has(vm.name)) continue;
    const view = ctx.to?.vms.get(vm.name);
    if (view === undefined) continue;
    const { choice, path } = effectiveChoice(vm, ctx);
    const read = ctx.inventory.recoveryPoints.get(vm.name);
    const points = read === undefined ? pointsFromView(view) : read.ok ? read.points : [];
    const resolved = resolvePoint(choice, points);
    if (resolved === undefined) {
      const why = read !== undefined && !read.ok ? ` (${read.error.code}: ${read.error.message})` : '';
      ctx.block('NO_RECOVERY_POINT', {
        vm: vm.name,
        site: ctx.toSite,
        path,
        message: `VM '${vm.name}' has no recovery point at '${ctx.toSite}' for '${describeChoice(choice)}'${why}; ${points.length} point(s) exist`,
        hint:
          choice.kind === 'latestAppConsistent'
            ? 'wait for the next application-consistent snapshot, or choose latest'
            : 'wait for the initial replication to finish, or choose another recovery point',
      });
      continue;
    }
    const { point } = resolved;
    // A planned failover replicates once more after the primaries stop: its point is newer still.
    const approximate = resolved.approximate || read === undefined || ctx.settings.type === 'planned';
    const ageMs = Math.max(0, now - Date.parse(point.time));
    const loss = ctx.settings.type === 'unplanned' ? unplannedLoss(ctx, vm.name, view, point) : undefined;
    out.set(vm.name, {
      id: point.id,
      kind: point.kind,
      time: point.time,
      ageMs,
      ...(loss === undefined ? {} : { loss }),
      approximate,
    });
    // What would be lost: for an unplanned failover, up to when the primary was last known able to
    // write (a site lost 30 minutes ago lost the writes of its last seconds, not 30 minutes);
    // otherwise the point's age.
    const lossMs = loss?.ms ?? ageMs;
    if (rpoMs === undefined || choice.kind === 'at' || ctx.settings.type === 'planned' || lossMs <= rpoMs)
      continue;
    const size =
      loss === undefined || loss.bound === 'exact' ? '' : loss.bound === 'atLeast' ? 'at least ' : 'at most ';
    const input = {
      vm: vm.name,
      site: ctx.toSite,
      path: 'spec.targets.rpo',
      message: `VM '${vm.name}' would lose ${size}${formatApproxDuration(lossMs)} of writes: its newest '${describeChoice(choice)}' point (${point.time}) is older than the RPO target ${formatApproxDuration(rpoMs)}${loss ? ` (${loss.basis})` : ''}`,
      hint:
        choice.kind === 'latestAppConsistent'
          ? 'application-consistent points are only as frequent as the VSS schedule; --recovery-point latest loses less, crash-consistent'
          : 'replication is behind: check the link and Measure-VMReplication; or fail over anyway with an explicit --recovery-point',
      details: { ageMs, lossMs, rpoMs, point: point.id },
    };
    if (ctx.settings.rpoPolicy === 'warn' || choice.kind === 'latestAppConsistent')
      ctx.warn('RPO_NOT_MET', input);
    else ctx.block('RPO_NOT_MET', input);
  }
  return out;
}

/** Without Get-VMSnapshot (fast mode), the last replication time stands in for `latest`. */
function pointsFromView(view: VmView): RecoveryPoint[] {
  const time = view.replication?.lastReplicationTime;
  if (time === undefined) return [];
  return [{ id: `${view.site}.${view.name}.latest`, kind: 'latest', time }];
}

/**
 * The loss an unplanned failover from `point` would claim now, made as the failover handler makes
 * it (engine/contract claimDataLoss): to now when pre-flight reads the primary running at the
 * source (the fence stops it later: at least that), to when it was last seen (its last running
 * read, its site's last heartbeat, the replica's last replication) when the source does not
 * answer — that part is what the vault knows today: the engine's own records (engine/locks
 * sightings).
 */
function unplannedLoss(
  ctx: EvalContext,
  vm: string,
  replica: VmView,
  point: RecoveryPoint,
): NonNullable<PlannedPoint['loss']> {
  const now = ctx.inventory.now.toISOString();
  // A stored off-sighting is left out: a VM started since by other hands than the engine's would
  // make it stale, and pre-flight must not understate. Running reads and heartbeats only lower
  // the bound when they are old.
  const { off: _stale, ...stored } = ctx.inventory.sightings?.get(vm) ?? {};
  const primary = ctx.from?.vms.get(vm);
  const seenNow: PrimarySighting =
    primary === undefined
      ? {}
      : primary.state === 'Running' || primary.state === 'Starting'
        ? { runningAt: now }
        : { off: { at: now, by: 'read' } };
  const sighting: PrimarySighting = { ...stored, ...seenNow };
  const lastReplicationTime = replica.replication?.lastReplicationTime;
  const claim = claimDataLoss({
    vm,
    site: ctx.fromSite,
    recoveryPoint: point.id,
    recoveryPointTime: point.time,
    ...(lastReplicationTime === undefined ? {} : { lastReplicationTime }),
    primary: sighting,
  });
  // Running now: the fence will stop it later, so the failover loses at least this much.
  const bound = seenNow.runningAt !== undefined ? 'atLeast' : claim.bound;
  return { ms: claim.windowMs, bound, basis: claim.basis };
}
