import { DrError, formatApproxDuration } from '../common/index.ts';
import type { RecoveryPointChoice } from '../plan/types.ts';
import type { Finding, PreflightReport } from './types.ts';

/** Compiler-style, one line: `file:line:col: blocker CODE: message [path] (hint)`. */
export function formatFinding(finding: Finding, file = 'plan'): string {
  const where = finding.line === undefined ? `${file}` : `${file}:${finding.line}:${finding.column ?? 1}`;
  return `${where}: ${finding.severity} ${finding.code}: ${finding.message} [${finding.path}] (${finding.hint})`;
}

export interface FormatOptions {
  /** Plan file name for locations. @defaultValue 'plan' */
  file?: string;
  /** Print the per-VM placement table (`--dry-run`). @defaultValue false */
  placements?: boolean;
  /** At most this many placement rows. @defaultValue 50 */
  maxRows?: number;
}

/** The report as a DR admin reads it in a terminal. */
export function formatPreflightReport(report: PreflightReport, options: FormatOptions = {}): string {
  const lines: string[] = [];
  const scope = report.selected.length === 1 ? '1 VM' : `${report.selected.length} VMs`;
  lines.push(
    `pre-flight of plan '${report.plan}': ${report.type} failover ${report.fromSite} → ${report.toSite} (${report.direction}), ${scope}, at ${report.checkedAt}`,
  );
  for (const finding of [...report.blockers, ...report.warnings])
    lines.push(`  ${formatFinding(finding, options.file)}`);
  if (report.capacity !== undefined) {
    const c = report.capacity;
    lines.push(
      `  capacity at ${c.site}: slots ${c.slots.used}+${c.slots.needed}/${c.slots.total}, memory ${c.memoryMb.used}+${c.memoryMb.needed}/${c.memoryMb.total} MB → ${pct(c.utilizationAfter)} (limit ${pct(c.maxUtilization)})`,
    );
  }
  if (!report.locksChecked)
    lines.push('  locks: not checked (no lock store): another execution may hold these VMs');
  // Read from the control plane's copy: how old that copy is (real time since the agent sent it).
  for (const age of report.dataAsOf ?? [])
    lines.push(
      `  data of ${age.site} as of ${age.asOf} (hosts' time), received ${formatApproxDuration(age.ageMs)} ago from its agent`,
    );
  const spread = spreadLine(report);
  if (spread !== undefined) lines.push(`  ${spread}`);
  // Durations of the sites' clock and of the plan's estimates are simulated time: a scaled
  // simulator runs them N× faster than the wall clock.
  const rto =
    report.estimatedRtoMs === undefined
      ? 'unknown'
      : `${formatApproxDuration(report.estimatedRtoMs)} simulated (the plan's step estimates)`;
  const target =
    report.targets.rtoMs === undefined ? '' : `, target ${formatApproxDuration(report.targets.rtoMs)}`;
  lines.push(`  estimated RTO: ${rto}${target}`);
  if (options.placements === true) {
    const max = options.maxRows ?? 50;
    // Unplanned: the loss a failover now would claim, to when the old primary was last seen.
    const losses = report.placements.some((p) => p.recoveryPoint?.loss !== undefined);
    lines.push(
      `  VM                         host                 recovery point                          age (simulated)${losses ? '  data loss' : ''}`,
    );
    for (const p of report.placements.slice(0, max)) {
      const point = p.recoveryPoint;
      const pointText =
        point === undefined ? `(none: ${choiceText(p.choice)})` : `${point.id} @ ${point.time}`;
      const age =
        point === undefined ? '' : `${formatApproxDuration(point.ageMs)}${point.approximate ? ' ~' : ''}`;
      const loss = point?.loss;
      const lossText =
        loss === undefined
          ? ''
          : ` ${age.padEnd(16)} ${loss.bound === 'exact' ? '' : loss.bound === 'atLeast' ? '>= ' : '<= '}${formatApproxDuration(loss.ms)}`;
      lines.push(
        `  ${p.vm.padEnd(26)} ${(p.host ?? '?').padEnd(20)} ${pointText.padEnd(56)} ${lossText === '' ? age : lossText.trimStart()}`,
      );
    }
    if (report.placements.length > max)
      lines.push(`  ... ${report.placements.length - max} more (--json for all)`);
  }
  lines.push(
    report.ok
      ? `  ok: no blocker${report.warnings.length === 0 ? '' : `, ${report.warnings.length} warning(s)`}`
      : `  BLOCKED: ${report.blockers.length} blocker(s); nothing was started`,
  );
  return lines.join('\n');
}

/**
 * Pre-flight found blockers: nothing was submitted. Exit code 1 (the sites are not ready; bad input
 * such as an unknown VM in `--vms` is an InputError, exit 2, before any check runs). Carries the
 * whole report, so a caller prints every blocker, not only the first.
 */
export class PreflightBlockedError extends DrError {
  readonly report: PreflightReport;

  constructor(report: PreflightReport, file?: string) {
    const first = report.blockers[0];
    super(
      'PREFLIGHT_BLOCKED',
      `pre-flight blocked plan '${report.plan}' with ${report.blockers.length} blocker(s); nothing was started${first === undefined ? '' : `; first: ${formatFinding(first, file)}`}`,
      { details: { blockers: report.blockers, warnings: report.warnings } },
    );
    this.name = 'PreflightBlockedError';
    this.report = report;
  }
}

/** The error a submit throws when pre-flight finds blockers (exit code 1, not retryable). */
export function preflightBlockedError(report: PreflightReport, file?: string): PreflightBlockedError {
  return new PreflightBlockedError(report, file);
}

/**
 * Fills `line`/`column` of every finding from its YAML path: for a report made without the plan's
 * text (a client that only has the normalized plan), by the caller that has the file.
 */
export function locateReport(
  report: PreflightReport,
  locate: (path: string) => { line: number; column: number } | undefined,
): PreflightReport {
  const place = <F extends Finding>(finding: F): F => {
    if (finding.line !== undefined) return finding;
    const at = locate(finding.path);
    return at === undefined ? finding : { ...finding, line: at.line, column: at.column };
  };
  return { ...report, blockers: report.blockers.map(place), warnings: report.warnings.map(place) };
}

/**
 * One line for a run that passed pre-flight: scope, target, capacity after, RTO estimate and the
 * warnings' codes (what `drctl drill` / `failover` and the demo print before they start).
 */
export function preflightSummaryLine(report: PreflightReport): string {
  const scope = report.selected.length === 1 ? '1 VM' : `${report.selected.length} VMs`;
  const parts = [`pre-flight ${report.ok ? 'ok' : 'BLOCKED'}: ${scope} → ${report.toSite}`];
  if (report.capacity !== undefined) parts.push(`capacity after ${pct(report.capacity.utilizationAfter)}`);
  if (report.estimatedRtoMs !== undefined)
    parts.push(`estimated RTO ${formatApproxDuration(report.estimatedRtoMs)} simulated`);
  if (report.recoveryPointSpread !== undefined)
    parts.push(
      `recovery points ${formatApproxDuration(report.recoveryPointSpread.spreadMs)} apart (simulated)`,
    );
  if (!report.locksChecked) parts.push('locks not checked');
  if (report.warnings.length > 0) {
    const codes = [...new Set(report.warnings.map((w) => w.code))].join(', ');
    parts.push(`${report.warnings.length} warning(s): ${codes}`);
  }
  if (!report.ok) parts.push(`${report.blockers.length} blocker(s)`);
  return parts.join('; ');
}

/**
 * How far apart the VMs land, before anything starts: the oldest and newest recovery point and the
 * spread (sites' clock, so simulated time on the simulator).
 */
function spreadLine(report: PreflightReport): string | undefined {
  if (report.type === 'planned')
    return 'recovery points: a planned failover replicates every VM up to its shutdown (no spread)';
  const s = report.recoveryPointSpread;
  if (s === undefined) return undefined;
  const approximate = s.approximate ? '; approximate: not every exact point was read (--exact-points)' : '';
  return `recovery points: oldest ${s.oldest} (${s.oldestVm}), newest ${s.newest} (${s.newestVm}), spread ${formatApproxDuration(s.spreadMs)} simulated over ${s.vms} VM(s)${approximate}`;
}

function pct(value: number): string {
  return Number.isFinite(value) ? `${Math.round(value * 1000) / 10} %` : 'n/a';
}

function choiceText(choice: RecoveryPointChoice): string {
  return choice.kind === 'at' ? `at ${choice.at}` : choice.kind;
}
