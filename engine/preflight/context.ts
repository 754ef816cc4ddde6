import type { HostView, NetworkView, VmView } from '../hosts/index.ts';
import type { Direction, FailoverType, PlanVm, RecoveryPlan, RecoveryPointChoice } from '../plan/types.ts';
import type { Subset } from './subset.ts';
import type { Blocker, BlockerCode, Finding, Inventory, PreflightWarning, WarningCode } from './types.ts';

/** Hyper-V names a test failover's VM `<name> - Test`. */
export const TEST_SUFFIX = ' - Test';

/** One site's inventory, indexed for lookups by name. */
export interface SiteIndex {
  site: string;
  /** Non-test VMs by name. */
  vms: Map<string, VmView>;
  /** Test VMs by the name of the VM they were created from. */
  testVms: Map<string, VmView>;
  hosts: Map<string, HostView>;
  networks: Map<string, NetworkView>;
}

export interface EvaluateSettings {
  type: FailoverType;
  direction: Direction;
  /** Run-time recovery point override (`--recovery-point`). */
  recoveryPoint?: RecoveryPointChoice;
  /** The execution being checked: its own locks are not blockers (a resumed execution). */
  execution?: string;
  maxUtilization: number;
  warnUtilization: number;
  rpoPolicy: 'block' | 'warn';
}

type FindingInput = Omit<Finding, 'severity' | 'code' | 'path'> & { path?: string };

/** What every check reads, and where it writes its findings. */
/** How an operator sets the plan's primaries' automatic start action (engine/cli/protect-command.ts). */
export const PROTECT_COMMAND = '`drctl protect <plan.yaml> --automatic-start-action Nothing`';

export class EvalContext {
  readonly fromSite: string;
  readonly toSite: string;
  /** `spec.target` (forward) or `spec.source` (failback): where a target-site finding points. */
  readonly toSitePath: string;
  readonly fromSitePath: string;
  readonly to: SiteIndex | undefined;
  readonly from: SiteIndex | undefined;
  readonly selected: PlanVm[];
  readonly findings: Finding[] = [];
  /** VMs a check has ruled out of later checks (not found, already failed over). */
  readonly excluded = new Set<string>();
  private readonly index = new Map<string, number>();

  constructor(
    readonly plan: RecoveryPlan,
    readonly inventory: Inventory,
    readonly subset: Subset,
    readonly settings: EvaluateSettings,
  ) {
    const forward = settings.direction === 'forward';
    this.fromSite = forward ? plan.source : plan.target;
    this.toSite = forward ? plan.target : plan.source;
    this.toSitePath = forward ? 'spec.target' : 'spec.source';
    this.fromSitePath = forward ? 'spec.source' : 'spec.target';
    plan.vms.forEach((vm, i) => {
      this.index.set(vm.name, i);
    });
    const chosen = new Set(subset.vms);
    this.selected = plan.vms.filter((vm) => chosen.has(vm.name));
    this.to = indexSite(inventory.to);
    this.from = inventory.from === undefined ? undefined : indexSite(inventory.from);
  }

  /** True when the source site was asked for and could not be read (lost, or the link is cut). */
  get sourceUnreachable(): boolean {
    return this.inventory.from !== undefined && !this.inventory.from.ok;
  }

  vmPath(vm: string): string {
    const i = this.index.get(vm);
    return i === undefined ? 'spec.vms' : `spec.vms[${i}]`;
  }

  vmIndex(vm: string): number {
    return this.index.get(vm) ?? -1;
  }

  block(code: BlockerCode, input: FindingInput): void {
    const finding: Blocker = {
      ...input,
      severity: 'blocker',
      code,
      path: input.path ?? this.defaultPath(input.vm),
    };
    this.findings.push(finding);
  }

  warn(code: WarningCode, input: FindingInput): void {
    const finding: PreflightWarning = {
      ...input,
      severity: 'warning',
      code,
      path: input.path ?? this.defaultPath(input.vm),
    };
    this.findings.push(finding);
  }

  private defaultPath(vm: string | undefined): string {
    return vm === undefined ? 'spec' : this.vmPath(vm);
  }
}

function indexSite(read: Inventory['to']): SiteIndex | undefined {
  if (!read.ok) return undefined;
  const vms = new Map<string, VmView>();
  const testVms = new Map<string, VmView>();
  for (const view of read.vms) {
    if (view.isTest) testVms.set(stripTestSuffix(view.name), view);
    else vms.set(view.name, view);
  }
  return {
    site: read.site,
    vms,
    testVms,
    hosts: new Map(read.hosts.map((h) => [h.name, h])),
    networks: new Map(read.networks.map((n) => [n.name, n])),
  };
}

function stripTestSuffix(name: string): string {
  return name.endsWith(TEST_SUFFIX) ? name.slice(0, -TEST_SUFFIX.length) : name;
}
