/**
 * Pre-flight of a failover's lifecycle operations (commit, change-point, cancel, reprotect): what
 * must hold at the hosts for the operation to finish, read once and decided before anything is
 * changed. The store runs it in front of each operation (engine/executor store/lifecycle.ts), so
 * an operation either starts with every VM able to finish or changes nothing and says, per VM,
 * why. Reads only (HyperVReadApi); the decision (`evaluateLifecycle`) is pure.
 */
import { assertNever, DrError } from '../common/index.ts';
import type { RecoveryPlan } from '../plan/types.ts';
import type { HyperVReadApi } from './gather.ts';
import { checkCancel, checkChangePoint, checkCommit, checkReprotect } from './lifecycle-checks.ts';
import { LifecycleEval } from './lifecycle-context.ts';
import type { LifecycleCheck, LifecycleInventory, LifecycleReport } from './lifecycle-types.ts';
import { formatFinding } from './report.ts';
import type { Blocker, Finding, PointsRead, PreflightWarning, SiteRead } from './types.ts';

export type {
  LifecycleCheck,
  LifecycleInventory,
  LifecycleOperation,
  LifecycleReport,
  LifecycleVmRow,
} from './lifecycle-types.ts';

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
