import { InputError } from '../common/index.ts';
import type { RecoveryPlan } from '../plan/types.ts';

/**
 * Part of a plan to fail over (`--vms a,b`, `--group N`). Both given: the union.
 */
export interface Selection {
  vms?: readonly string[];
  /**
   * An ordered group: its 1-based position in `spec.groups` (as the CLI's `--group 2` reads), or
   * its name.
   */
  group?: number | string;
}

/** A selected VM's dependency that the run will not fail over. */
export interface ExternalDependency {
  vm: string;
  dependency: string;
  /** `dependsOn`: written on the VM; `group`: the VM's ordered group comes after the dependency's. */
  via: 'dependsOn' | 'group';
}

export interface Subset {
  /** Selected VM names in plan order. */
  vms: string[];
  /** True when the whole plan is selected. */
  all: boolean;
  /** Direct dependencies outside the selection; they must already run at the target. */
  external: ExternalDependency[];
}

/**
 * Resolves a selection against the plan. Unknown VM names or groups are bad input
 * (InputError, exit code 2): a typo must never silently shrink a failover.
 */
export function selectSubset(plan: RecoveryPlan, selection: Selection = {}): Subset {
  const all = selection.vms === undefined && selection.group === undefined;
  if (all) return { vms: plan.vms.map((vm) => vm.name), all: true, external: [] };

  const known = new Set(plan.vms.map((vm) => vm.name));
  const chosen = new Set<string>();
  const unknown = (selection.vms ?? []).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new InputError(
      'SELECTION_UNKNOWN_VM',
      `--vms names ${unknown.length} VM(s) not in plan '${plan.metadata.name}': ${unknown.slice(0, 10).join(', ')}` +
        " (names are case-sensitive; `drctl plan show` lists the plan's VMs)",
      { unknown, plan: plan.metadata.name },
    );
  }
  for (const name of selection.vms ?? []) chosen.add(name);
  if (selection.group !== undefined) {
    for (const name of groupOf(plan, selection.group).vms) chosen.add(name);
  }
  if (chosen.size === 0) {
    throw new InputError(
      'SELECTION_EMPTY',
      'the selection names no VM; give --vms or --group, or neither for the whole plan',
    );
  }

  const vms = plan.vms.filter((vm) => chosen.has(vm.name)).map((vm) => vm.name);
  return { vms, all: vms.length === plan.vms.length, external: externalDependencies(plan, chosen) };
}

function groupOf(plan: RecoveryPlan, group: number | string): { name: string; vms: string[] } {
  const found =
    typeof group === 'number'
      ? Number.isInteger(group)
        ? plan.groups[group - 1]
        : undefined
      : plan.groups.find((g) => g.name === group);
  if (found === undefined) {
    const names = plan.groups.map((g, i) => `${i + 1}=${g.name}`).join(', ');
    throw new InputError(
      'SELECTION_UNKNOWN_GROUP',
      `--group ${String(group)}: plan '${plan.metadata.name}' has ${
        plan.groups.length === 0 ? 'no ordered groups' : `groups ${names}`
      } (groups are numbered from 1)`,
      { group: String(group), plan: plan.metadata.name },
    );
  }
  return found;
}

/**
 * Direct dependencies that leave the selection: `dependsOn`, plus the ordered-group rule (every VM
 * of group k waits for every VM of group k-1). Direct ones suffice: a dependency that already runs
 * at the target had its own dependencies met when it was failed over.
 */
function externalDependencies(plan: RecoveryPlan, chosen: ReadonlySet<string>): ExternalDependency[] {
  const out: ExternalDependency[] = [];
  for (const vm of plan.vms) {
    if (!chosen.has(vm.name)) continue;
    const seen = new Set<string>();
    for (const dependency of vm.dependsOn) {
      if (chosen.has(dependency) || seen.has(dependency)) continue;
      seen.add(dependency);
      out.push({ vm: vm.name, dependency, via: 'dependsOn' });
    }
    const previous = vm.group === undefined || vm.group === 0 ? undefined : plan.groups[vm.group - 1];
    for (const dependency of previous?.vms ?? []) {
      if (chosen.has(dependency) || seen.has(dependency)) continue;
      seen.add(dependency);
      out.push({ vm: vm.name, dependency, via: 'group' });
    }
  }
  return out;
}

/**
 * The CLI's `--vms a,b` and `--group N|name` flags as a Selection. A group that is a whole number
 * is a 1-based position, anything else a name; selectSubset checks both against the plan.
 */
export function selectionFromFlags(flags: { vms?: string; group?: string }): Selection {
  const vms = flags.vms
    ?.split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (flags.vms !== undefined && (vms === undefined || vms.length === 0)) {
    throw new InputError(
      'SELECTION_EMPTY',
      '--vms needs a comma-separated list of VM names, e.g. --vms sql-01,app-01',
    );
  }
  const raw = flags.group?.trim();
  const group = raw === undefined || raw === '' ? undefined : /^\d+$/.test(raw) ? Number(raw) : raw;
  return { ...(vms === undefined ? {} : { vms }), ...(group === undefined ? {} : { group }) };
}
