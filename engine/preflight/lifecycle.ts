/**
 * Pre-flight of a failover's lifecycle operations (commit, change-point, cancel, reprotect): what
 * must hold at the hosts for the operation to finish, read once and decided before anything is
 * changed. The store runs it in front of each operation (engine/executor store/lifecycle.ts), so
 * an operation either starts with every VM able to finish or changes nothing and says, per VM,
 * why. Reads only (HyperVReadApi); the decision (`evaluateLifecycle`) is pure.
 */
import { assertNever, DrError } from '../common/index.ts';
import { type HostView, pointFor, type RecoveryPoint, type VmView } from '../hosts/index.ts';
import type { RecoveryPlan, RecoveryPointChoice } from '../plan/types.ts';
import { describeChoice } from './checks/recovery-point.ts';
import type { HyperVReadApi } from './gather.ts';
import { formatFinding } from './report.ts';
import type {
  Blocker,
  BlockerCode,
  Finding,
  PointsRead,
  PreflightWarning,
  SiteRead,
  WarningCode,
} from './types.ts';

export type LifecycleOperation = 'commit' | 'change-point' | 'cancel' | 'reprotect';

/** What the operation is about: the failover, its plan and the VMs the operation acts on. */
export interface LifecycleCheck {
  operation: LifecycleOperation;
  /** The failover (planned or unplanned execution) the operation acts on. */
  execution: string;
  failoverType: 'planned' | 'unplanned';
  /**
   * The newest epoch of the failover and its own lifecycle runs: a VM that accepted a newer one
   * was acted on by another execution since.
   */
  failoverEpoch: number;
  /** The failover's plan snapshot (paths of findings point into it). */
  plan: RecoveryPlan;
  /** The failover's sites: its VMs ran at `fromSite` and were failed over to `toSite`. */
  fromSite: string;
  toSite: string;
  vms: readonly string[];
  /** change-point: the point asked for. */
  recoveryPoint?: RecoveryPointChoice;
  /** commit --partial: VMs that are not up are left out instead of blocking. */
  partial?: boolean;
}

/** One read of both sites, and the recovery points a change of point needs. */
export interface LifecycleInventory {
  now: Date;
  to: SiteRead;
  from: SiteRead;
  recoveryPoints: Map<string, PointsRead>;
  apiCalls: number;
}

/** Per VM, what the operation will do with it. */
export interface LifecycleVmRow {
  vm: string;
  /** Where it runs now (site/host), or why it runs nowhere. */
  runs: string;
  /** What the operation will do. */
  action: string;
  /** change-point: the point it will fail over to; commit: the point it keeps. */
  recoveryPoint?: RecoveryPoint;
  /** reprotect: the resync reversing needs, when known before it runs (planned: 0). */
  resyncBytes?: number;
}

export interface LifecycleReport {
  ok: boolean;
  operation: LifecycleOperation;
  execution: string;
  plan: string;
  fromSite: string;
  toSite: string;
  checkedAt: string;
  /** The VMs the operation will act on (commit --partial: less those left out). */
  vms: string[];
  /** commit --partial: VMs left out, and why. */
  leftOut: { vm: string; reason: string }[];
  blockers: Blocker[];
  warnings: PreflightWarning[];
  rows: LifecycleVmRow[];
  stats: { apiCalls: number };
}

/** Get-VMSnapshot calls in flight while a change of point's pre-flight reads the points. */
const POINT_READS = 256;

/** Reads both sites (VMs, hosts) and, for a change of point, each VM's recovery points at the target. */
export async function gatherLifecycleInventory(
  api: HyperVReadApi,
  check: LifecycleCheck,
): Promise<LifecycleInventory> {
  let apiCalls = 0;
  const counted = <T>(call: () => Promise<T>): Promise<T> => {
    apiCalls++;
    return call();
  };
  const readSite = async (site: string): Promise<SiteRead> => {
    try {
      const [vms, hosts] = await Promise.all([
        counted(() => api.listVMs(site)),
        counted(() => api.listHosts(site)),
      ]);
      return { ok: true, site, vms, hosts, networks: [] };
    } catch (error) {
      return { ok: false, site, error: describeError(error) };
    }
  };
  const recoveryPoints = new Map<string, PointsRead>();
  const readPoints = async (vm: string): Promise<void> => {
    try {
      recoveryPoints.set(vm, {
        ok: true,
        points: await counted(() => api.getRecoveryPoints(check.toSite, vm)),
      });
    } catch (error) {
      recoveryPoints.set(vm, { ok: false, error: describeError(error) });
    }
  };
  // At most POINT_READS Get-VMSnapshot calls in flight, as the failover pre-flight reads them.
  let next = 0;
  const reader = async (): Promise<void> => {
    while (next < check.vms.length) await readPoints(check.vms[next++] as string);
  };
  const points =
    check.operation === 'change-point'
      ? Promise.all(Array.from({ length: Math.min(POINT_READS, check.vms.length) }, reader))
      : Promise.resolve([]);
  const [now, to, from] = await Promise.all([
    counted(() => api.now()).then((iso) => new Date(iso)),
    readSite(check.toSite),
    readSite(check.fromSite),
    points,
  ]);
  return { now, to, from, recoveryPoints, apiCalls };
}

/** Gather, then decide. */
export async function runLifecyclePreflight(
  api: HyperVReadApi,
  check: LifecycleCheck,
): Promise<LifecycleReport> {
  return evaluateLifecycle(check, await gatherLifecycleInventory(api, check));
}

interface Site {
  site: string;
  vms: Map<string, VmView>;
  hosts: Map<string, HostView>;
}

function indexSite(read: SiteRead): Site | undefined {
  if (!read.ok) return undefined;
  return {
    site: read.site,
    vms: new Map(read.vms.filter((v) => !v.isTest).map((v) => [v.name, v])),
    hosts: new Map(read.hosts.map((h) => [h.name, h])),
  };
}

/** Everything one evaluation reads and writes. */
class LifecycleEval {
  readonly findings: Finding[] = [];
  readonly rows: LifecycleVmRow[] = [];
  readonly leftOut: { vm: string; reason: string }[] = [];
  readonly to: Site | undefined;
  readonly from: Site | undefined;
  private readonly index = new Map<string, number>();

  constructor(
    readonly check: LifecycleCheck,
    readonly inventory: LifecycleInventory,
  ) {
    check.plan.vms.forEach((vm, i) => {
      this.index.set(vm.name, i);
    });
    this.to = indexSite(inventory.to);
    this.from = indexSite(inventory.from);
  }

  get forward(): boolean {
    return this.check.fromSite === this.check.plan.source;
  }

  sitePath(which: 'to' | 'from'): string {
    const source = (which === 'from') === this.forward;
    return source ? 'spec.source' : 'spec.target';
  }

  vmPath(vm: string): string {
    const i = this.index.get(vm);
    return i === undefined ? 'spec.vms' : `spec.vms[${i}]`;
  }

  block(code: BlockerCode, vm: string | undefined, site: string, message: string, hint: string): void {
    this.findings.push({
      severity: 'blocker',
      code,
      ...(vm === undefined ? {} : { vm }),
      site,
      path: vm === undefined ? this.sitePath(site === this.check.toSite ? 'to' : 'from') : this.vmPath(vm),
      message,
      hint,
    });
  }

  warn(code: WarningCode, vm: string | undefined, site: string, message: string, hint: string): void {
    this.findings.push({
      severity: 'warning',
      code,
      ...(vm === undefined ? {} : { vm }),
      site,
      path: vm === undefined ? this.sitePath(site === this.check.toSite ? 'to' : 'from') : this.vmPath(vm),
      message,
      hint,
    });
  }
}

/**
 * The decision, from one inventory read. Each operation's checks are documented where they are
 * made; every blocker names the VM (or site) and what to do.
 */
export function evaluateLifecycle(check: LifecycleCheck, inventory: LifecycleInventory): LifecycleReport {
  const ctx = new LifecycleEval(check, inventory);
  if (ctx.to === undefined) {
    const error = inventory.to.ok ? '' : ` (${inventory.to.error.code}: ${inventory.to.error.message})`;
    ctx.block(
      'TARGET_UNREACHABLE',
      undefined,
      check.toSite,
      `site ${check.toSite}, where the failed-over VMs are, cannot be read${error}; a ${check.operation} acts there`,
      `wait until ${check.toSite} answers again, then run the ${check.operation} again`,
    );
  } else {
    switch (check.operation) {
      case 'change-point':
        checkChangePoint(ctx, ctx.to);
        break;
      case 'commit':
        checkCommit(ctx, ctx.to);
        break;
      case 'cancel':
        checkCancel(ctx, ctx.to);
        break;
      case 'reprotect':
        checkReprotect(ctx, ctx.to);
        break;
      default:
        assertNever(check.operation, 'lifecycle operation');
    }
  }
  const blockers = ctx.findings.filter((f): f is Blocker => f.severity === 'blocker');
  const warnings = ctx.findings.filter((f): f is PreflightWarning => f.severity === 'warning');
  const out = new Set(ctx.leftOut.map((l) => l.vm));
  return {
    ok: blockers.length === 0,
    operation: check.operation,
    execution: check.execution,
    plan: check.plan.metadata.name,
    fromSite: check.fromSite,
    toSite: check.toSite,
    checkedAt: inventory.now.toISOString(),
    vms: check.vms.filter((vm) => !out.has(vm)),
    leftOut: ctx.leftOut,
    blockers,
    warnings,
    rows: ctx.rows,
    stats: { apiCalls: inventory.apiCalls },
  };
}

function where(view: VmView): string {
  return `${view.site}/${view.host}: ${view.state}${view.replication ? `, ${view.replication.mode} ${view.replication.state}` : ''}`;
}

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
      `bring its host back (\`drctl sim truth\` / the host's console), then run the ${ctx.check.operation} again`,
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
function checkChangePoint(ctx: LifecycleEval, to: Site): void {
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
function checkCommit(ctx: LifecycleEval, to: Site): void {
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
function checkCancel(ctx: LifecycleEval, to: Site): void {
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
function checkReprotect(ctx: LifecycleEval, to: Site): void {
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

function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof Error) {
    const code = 'code' in error && typeof error.code === 'string' ? error.code : 'ERROR';
    return { code, message: error.message };
  }
  return { code: 'ERROR', message: String(error) };
}

/**
 * Fills `line`/`column` of each finding from the plan file the operator named (`drctl reprotect
 * <plan.yaml>`): a VM's finding points at that VM in the file (found by name: the file may order
 * its VMs differently from the failover's snapshot), a site's at `spec.source` / `spec.target`.
 */
export function locateLifecycleReport(
  report: LifecycleReport,
  plan: RecoveryPlan,
  locate: (path: string) => { line: number; column: number } | undefined,
): LifecycleReport {
  const index = new Map(plan.vms.map((vm, i) => [vm.name, i]));
  const place = <F extends Finding>(finding: F): F => {
    const i = finding.vm === undefined ? undefined : index.get(finding.vm);
    const path = i === undefined ? finding.path : `spec.vms[${i}]`;
    const at = locate(path);
    return at === undefined ? { ...finding, path } : { ...finding, path, line: at.line, column: at.column };
  };
  return { ...report, blockers: report.blockers.map(place), warnings: report.warnings.map(place) };
}

/** The report as an admin reads it: one line per finding (the failover pre-flight's format), then the VMs. */
export function formatLifecycleReport(
  report: LifecycleReport,
  options: { rows?: boolean; file?: string } = {},
): string {
  const lines = [
    `pre-flight of ${report.operation} of failover ${report.execution} (plan '${report.plan}', ${report.fromSite} → ${report.toSite}), ${report.vms.length} VM(s), at ${report.checkedAt}`,
  ];
  for (const finding of [...report.blockers, ...report.warnings])
    lines.push(`  ${formatFinding(finding, options.file ?? report.plan)}`);
  if (options.rows !== false) {
    for (const row of report.rows.slice(0, 50)) {
      const resync =
        row.resyncBytes !== undefined
          ? `; resync ${(row.resyncBytes / 1024 / 1024).toFixed(1)} MiB`
          : report.operation === 'reprotect'
            ? '; resync: the writes since the fork, sized when reversed'
            : '';
      lines.push(`  ${row.vm.padEnd(24)} ${row.runs}: ${row.action}${resync}`);
    }
    if (report.rows.length > 50) lines.push(`  ... ${report.rows.length - 50} more (--json for all)`);
  }
  for (const left of report.leftOut) lines.push(`  left out ${left.vm}: ${left.reason}`);
  lines.push(
    report.ok
      ? `  ok: no blocker${report.warnings.length === 0 ? '' : `, ${report.warnings.length} warning(s)`}`
      : `  BLOCKED: ${report.blockers.length} blocker(s); nothing was changed`,
  );
  return lines.join('\n');
}

/**
 * A lifecycle operation's pre-flight found blockers: nothing was changed (the failover's state and
 * every VM are as they were). Exit code 1; carries the whole report.
 */
export class LifecycleBlockedError extends DrError {
  readonly report: LifecycleReport;

  constructor(report: LifecycleReport) {
    super(
      'PREFLIGHT_BLOCKED',
      `${report.operation} of ${report.execution} refused, nothing was changed:\n${formatLifecycleReport(report, { rows: false })}`,
      { details: { blockers: report.blockers, warnings: report.warnings } },
    );
    this.name = 'LifecycleBlockedError';
    this.report = report;
  }
}
