import type {
  Direction,
  DurationMs,
  FailoverType,
  RecoveryPlan,
  RecoveryPointChoice,
} from '../plan/types.ts';
import { applyAccept, checkAccept } from './accept.ts';
import { checkAutomaticStart } from './checks/automatic-start.ts';
import { checkCapacity } from './checks/capacity.ts';
import { checkExternalDependencies } from './checks/dependencies.ts';
import { checkNetworks } from './checks/networks.ts';
import { checkOwnership } from './checks/ownership.ts';
import { checkRecoveryPoints, effectiveChoice } from './checks/recovery-point.ts';
import { checkReplication } from './checks/replication.ts';
import { EvalContext } from './context.ts';
import type { ScriptFinding } from './scripts.ts';
import { recoveryPointSpread } from './spread.ts';
import { type Selection, type Subset, selectSubset } from './subset.ts';
import type {
  Blocker,
  Finding,
  Inventory,
  Placement,
  PreflightReport,
  PreflightWarning,
  SiteDataAge,
} from './types.ts';

/** Turns a YAML path into a 1-based position in the plan file (engine/plan's Locator). */
export type Locate = (path: string) => { line: number; column: number } | undefined;

export interface EvaluateOptions {
  type: FailoverType;
  /** @defaultValue 'forward' */
  direction?: Direction;
  /** Part of the plan (`--vms`, `--group`); a resolved Subset is taken as is. @defaultValue the whole plan */
  selection?: Selection | Subset;
  /** Run-time recovery point (`--recovery-point`): it wins over a VM's own, as in the engine. */
  recoveryPoint?: RecoveryPointChoice;
  /** The execution that will run (its own locks are not blockers when it resumes). */
  execution?: string;
  /**
   * The highest share of the target site's slots or memory the failover may leave in use; above
   * it, INSUFFICIENT_CAPACITY. 0.8 keeps 20 % headroom (a site policy); 1 blocks only VMs that do
   * not fit.
   * @defaultValue 1
   */
  maxUtilization?: number;
  /** Above this share, a CAPACITY_HIGH warning. @defaultValue 0.8 */
  warnUtilization?: number;
  /**
   * What a recovery point older than the plan's RPO target is.
   * @defaultValue 'block'
   */
  rpoPolicy?: 'block' | 'warn';
  /** RTO estimate of the run (engine/plan's compile estimate), shown by `--dry-run`. */
  estimateRtoMs?: DurationMs;
  locate?: Locate;
  /**
   * Blockers the operator accepts for this run (`--accept`): they are reported as warnings.
   * Only ACCEPTABLE_BLOCKERS may be named; anything else is an InputError.
   * @defaultValue []
   */
  accept?: readonly string[];
  /**
   * Script actions of the run against the catalogs the workers of their sites serve (runPreflight
   * reads them when it is given a catalog reader, scripts.ts decides): SCRIPT_NOT_IN_CATALOG,
   * NO_SCRIPT_CATALOG blockers, SCRIPT_CATALOG_DIFFERS warnings.
   */
  scriptFindings?: readonly ScriptFinding[];
  /** For the report's stats. @defaultValue 0 */
  gatherMs?: number;
  /** Monotonic ms, for the report's stats. @defaultValue performance.now */
  timer?: () => number;
}

/**
 * The pre-flight decision: pure, no I/O. Takes the plan and one inventory snapshot, returns every
 * blocker and warning (located in the plan), the placement of each selected VM and the capacity
 * figures. Nothing may start while `report.ok` is false.
 */
export function evaluatePreflight(
  plan: RecoveryPlan,
  inventory: Inventory,
  options: EvaluateOptions,
): PreflightReport {
  const timer = options.timer ?? (() => performance.now());
  const started = timer();
  const direction = options.direction ?? 'forward';
  const subset = isSubset(options.selection) ? options.selection : selectSubset(plan, options.selection);
  const ctx = new EvalContext(plan, inventory, subset, {
    type: options.type,
    direction,
    ...(options.recoveryPoint === undefined ? {} : { recoveryPoint: options.recoveryPoint }),
    ...(options.execution === undefined ? {} : { execution: options.execution }),
    maxUtilization: options.maxUtilization ?? 1,
    warnUtilization: options.warnUtilization ?? 0.8,
    rpoPolicy: options.rpoPolicy ?? 'block',
  });

  if (!inventory.to.ok) {
    ctx.block('TARGET_UNREACHABLE', {
      site: ctx.toSite,
      path: ctx.toSitePath,
      message: `target site '${ctx.toSite}' cannot be read (${inventory.to.error.code}: ${inventory.to.error.message})`,
      hint: 'nothing can fail over to a site that cannot be reached; check its agent and hosts',
    });
  }
  checkReplication(ctx);
  checkAutomaticStart(ctx);
  checkOwnership(ctx);
  const points = checkRecoveryPoints(ctx);
  checkNetworks(ctx);
  const capacity = checkCapacity(ctx);
  checkExternalDependencies(ctx);
  for (const { severity, code, ...finding } of options.scriptFindings ?? []) {
    if (severity === 'warning') ctx.warn('SCRIPT_CATALOG_DIFFERS', finding);
    else ctx.block(code === 'NO_SCRIPT_CATALOG' ? 'NO_SCRIPT_CATALOG' : 'SCRIPT_NOT_IN_CATALOG', finding);
  }

  const placements: Placement[] = ctx.selected.map((vm) => {
    const view = ctx.to?.vms.get(vm.name);
    const point = points.get(vm.name);
    const network = options.type === 'test' ? vm.network.test : vm.network.failover;
    return {
      vm: vm.name,
      site: ctx.toSite,
      choice: effectiveChoice(vm, ctx).choice,
      ...(view === undefined ? {} : { host: view.host, memoryMb: view.memoryMb }),
      ...(point === undefined ? {} : { recoveryPoint: point }),
      ...(network === undefined ? {} : { network }),
    };
  });

  // A planned failover sends every pending write first: its VMs land at their own shutdowns.
  const spread =
    options.type === 'planned'
      ? undefined
      : recoveryPointSpread(
          placements.map((p) => ({
            vm: p.vm,
            time: p.recoveryPoint?.time,
            approximate: p.recoveryPoint?.approximate ?? false,
          })),
        );
  const findings = applyAccept(sortFindings(ctx, options.locate), checkAccept(options.accept ?? []));
  const blockers = findings.filter((f): f is Blocker => f.severity === 'blocker');
  const warnings = findings.filter((f): f is PreflightWarning => f.severity === 'warning');
  return {
    ok: blockers.length === 0,
    plan: plan.metadata.name,
    type: options.type,
    direction,
    fromSite: ctx.fromSite,
    toSite: ctx.toSite,
    checkedAt: inventory.now.toISOString(),
    selected: subset.vms,
    blockers,
    warnings,
    placements,
    ...(spread === undefined ? {} : { recoveryPointSpread: spread }),
    ...(capacity === undefined ? {} : { capacity }),
    targets: {
      ...(plan.targets.rpoMs === undefined ? {} : { rpoMs: plan.targets.rpoMs }),
      ...(plan.targets.rtoMs === undefined ? {} : { rtoMs: plan.targets.rtoMs }),
    },
    ...(options.estimateRtoMs === undefined ? {} : { estimatedRtoMs: options.estimateRtoMs }),
    locksChecked: inventory.locksRead,
    ...dataAsOf(inventory),
    stats: {
      vms: subset.vms.length,
      apiCalls: inventory.apiCalls,
      gatherMs: options.gatherMs ?? 0,
      evaluateMs: timer() - started,
    },
  };
}

function dataAsOf(inventory: Inventory): { dataAsOf?: SiteDataAge[] } {
  const ages = [inventory.to.asOf, inventory.from?.asOf].filter((a): a is SiteDataAge => a !== undefined);
  return ages.length === 0 ? {} : { dataAsOf: ages };
}

function isSubset(selection: Selection | Subset | undefined): selection is Subset {
  return selection !== undefined && 'external' in selection;
}

/** Plan-wide findings first, then by VM in plan order; each located when `locate` is given. */
function sortFindings(ctx: EvalContext, locate: Locate | undefined): Finding[] {
  const rank = (f: Finding) => (f.vm === undefined ? -1 : ctx.vmIndex(f.vm));
  const sorted = ctx.findings
    .map((finding, order) => ({ finding, order }))
    .sort((a, b) => rank(a.finding) - rank(b.finding) || a.order - b.order)
    .map(({ finding }) => finding);
  if (locate === undefined) return sorted;
  return sorted.map((finding) => {
    const at = locate(finding.path);
    return at === undefined ? finding : { ...finding, line: at.line, column: at.column };
  });
}
