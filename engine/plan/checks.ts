import { DEFAULT_AUTOMATIC_FAILOVER_AFTER_MS, SITE_LEASE_MS } from './defaults.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { checkDependencyGraph } from './graph-checks.ts';
import { error, type RawIssue, warning } from './raw-issue.ts';
import type { ActionInput, PlanInput } from './schema.ts';
import { didYouMean } from './suggest.ts';

/** Options of the semantic checks. */
export interface CheckOptions {
  /**
   * The site lease automatic failover must wait out.
   * @defaultValue SITE_LEASE_MS (30 s)
   */
  siteLeaseMs?: number;
}

/** Step ids are `<vm>/<kind>`, `action/<name>` and `barrier/...`: these VM names would collide. */
const RESERVED_VM_NAMES = new Set(['action', 'barrier']);

/**
 * Every semantic check over a schema-valid plan, all in one pass: the admin fixes the whole file
 * at once instead of one error per run.
 */
export function checkPlan(input: PlanInput, options: CheckOptions = {}): RawIssue[] {
  const issues: RawIssue[] = [];
  const spec = input.spec;
  if (spec.source === spec.target) {
    issues.push(
      error(
        'same-site',
        `source and target are both "${spec.source}"`,
        ['spec', 'target'],
        'fail over to another site',
      ),
    );
  }

  // VMs and groups share one namespace so an action's `before: x` resolves one way only.
  const vmIndex = new Map<string, number>();
  spec.vms.forEach((vm, i) => {
    const first = vmIndex.get(vm.name);
    if (first !== undefined) {
      issues.push(
        error('duplicate-name', `duplicate VM "${vm.name}" (first at spec.vms[${first}])`, [
          'spec',
          'vms',
          i,
          'name',
        ]),
      );
    } else {
      vmIndex.set(vm.name, i);
    }
    if (RESERVED_VM_NAMES.has(vm.name)) {
      issues.push(
        error(
          'reserved-name',
          `"${vm.name}" is reserved for step ids`,
          ['spec', 'vms', i, 'name'],
          'rename the VM',
        ),
      );
    }
  });
  const vmNames = [...vmIndex.keys()];
  const groupIndex = checkGroups(input, vmIndex, vmNames, issues);
  checkDependsOn(input, vmIndex, vmNames, issues);
  checkActions(input, vmIndex, groupIndex, issues);

  // Automatic failover must wait out the lease, the default delay included when it is enabled.
  const automatic = spec.automaticFailover;
  const lease = options.siteLeaseMs ?? SITE_LEASE_MS;
  const explicit = automatic?.after !== undefined;
  const afterMs = explicit ? parseDuration(automatic?.after ?? '') : DEFAULT_AUTOMATIC_FAILOVER_AFTER_MS;
  if (afterMs < lease && (explicit || automatic?.enabled === true)) {
    issues.push(
      error(
        'auto-failover-before-lease',
        `automatic failover after ${formatDuration(afterMs)} is shorter than the site lease (${formatDuration(lease)})`,
        explicit ? ['spec', 'automaticFailover', 'after'] : ['spec', 'automaticFailover', 'enabled'],
        `use at least ${formatDuration(lease)}: a site is not lost before its lease expires`,
      ),
    );
  }
  if (!issues.some((issue) => issue.severity === 'error')) {
    issues.push(...checkDependencyGraph(input, vmIndex, groupIndex));
  }
  return issues;
}

function checkGroups(
  input: PlanInput,
  vmIndex: ReadonlyMap<string, number>,
  vmNames: readonly string[],
  issues: RawIssue[],
): Map<string, number> {
  const groupIndex = new Map<string, number>();
  const memberOf = new Map<string, string>();
  (input.spec.groups ?? []).forEach((group, g) => {
    if (groupIndex.has(group.name) || vmIndex.has(group.name)) {
      issues.push(
        error(
          'duplicate-name',
          `group name "${group.name}" is already used by a ${groupIndex.has(group.name) ? 'group' : 'VM'}`,
          ['spec', 'groups', g, 'name'],
        ),
      );
    } else {
      groupIndex.set(group.name, g);
    }
    group.vms.forEach((vm, j) => {
      const path = ['spec', 'groups', g, 'vms', j];
      if (!vmIndex.has(vm)) {
        issues.push(
          error(
            'unknown-vm',
            `group "${group.name}" lists unknown VM "${vm}"`,
            path,
            didYouMean(vm, vmNames),
          ),
        );
        return;
      }
      const other = memberOf.get(vm);
      if (other !== undefined) {
        issues.push(
          error(
            'duplicate-group-member',
            `VM "${vm}" is already in group "${other}"`,
            path,
            'a VM belongs to one group',
          ),
        );
      } else {
        memberOf.set(vm, group.name);
      }
    });
  });
  return groupIndex;
}

function checkDependsOn(
  input: PlanInput,
  vmIndex: ReadonlyMap<string, number>,
  vmNames: readonly string[],
  issues: RawIssue[],
): void {
  input.spec.vms.forEach((vm, i) => {
    const seen = new Set<string>();
    (vm.dependsOn ?? []).forEach((dep, j) => {
      const path = ['spec', 'vms', i, 'dependsOn', j];
      if (!vmIndex.has(dep)) {
        issues.push(
          error('unknown-vm', `"${vm.name}" depends on unknown VM "${dep}"`, path, didYouMean(dep, vmNames)),
        );
      } else if (seen.has(dep)) {
        issues.push(warning('duplicate-dependency', `"${vm.name}" lists "${dep}" twice`, path));
      }
      seen.add(dep);
    });
  });
}

function checkActions(
  input: PlanInput,
  vmIndex: ReadonlyMap<string, number>,
  groupIndex: ReadonlyMap<string, number>,
  issues: RawIssue[],
): void {
  const spec = input.spec;
  const names = new Map<string, number>();
  const anchors = [...vmIndex.keys(), ...groupIndex.keys()];
  (spec.actions ?? []).forEach((action, a) => {
    const at = (...rest: PropertyKey[]) => ['spec', 'actions', a, ...rest];
    const first = names.get(action.name);
    if (first !== undefined) {
      issues.push(
        error(
          'duplicate-name',
          `duplicate action "${action.name}" (first at spec.actions[${first}])`,
          at('name'),
        ),
      );
    } else {
      names.set(action.name, a);
    }
    if ((action.before === undefined) === (action.after === undefined)) {
      issues.push(
        error(
          'action-anchor',
          `action "${action.name}" needs exactly one of before / after`,
          at(action.after === undefined ? 'name' : 'after'),
          'e.g. before: sql-01 or after: web-tier',
        ),
      );
    }
    for (const key of ['before', 'after'] as const) {
      const ref = action[key];
      if (ref !== undefined && !vmIndex.has(ref) && !groupIndex.has(ref)) {
        issues.push(
          error(
            'unknown-vm',
            `action "${action.name}" runs ${key} unknown VM or group "${ref}"`,
            at(key),
            didYouMean(ref, anchors),
          ),
        );
      }
    }
    checkRun(action, spec.source, spec.target, at(), issues);
    if (action.undo !== undefined) checkRun(action.undo, spec.source, spec.target, at('undo'), issues);
  });
}

type RunFields = Pick<ActionInput, 'script' | 'webhook' | 'manual' | 'args' | 'runOn'>;

function checkRun(
  run: RunFields,
  source: string,
  target: string,
  path: PropertyKey[],
  issues: RawIssue[],
): void {
  const kinds = (['script', 'webhook', 'manual'] as const).filter((kind) => run[kind] !== undefined);
  if (kinds.length !== 1) {
    issues.push(
      error(
        'action-kind',
        kinds.length === 0
          ? 'an action needs one of script, webhook or manual'
          : `an action has one kind, not ${kinds.join(' and ')}`,
        kinds.length === 0 ? path : [...path, kinds[1] ?? 'script'],
        'script: <catalog name> | webhook: <url> | manual: <instruction>',
      ),
    );
  }
  if (run.script === undefined && run.runOn !== undefined) {
    issues.push(
      error(
        'run-on',
        'runOn applies to scripts only',
        [...path, 'runOn'],
        'webhooks and manual steps run on the control plane',
      ),
    );
  }
  if (run.script === undefined && run.args !== undefined) {
    issues.push(error('args', 'args apply to scripts only', [...path, 'args']));
  }
  const runOn = run.runOn;
  if (runOn !== undefined && runOn !== 'control' && runOn !== 'target' && runOn !== target) {
    const hint = 'a script runs on the control plane or at the site being failed over to: control | target';
    const message =
      runOn === source
        ? `a script cannot run at the source "${source}": it may be down during failover`
        : `unknown site "${runOn}" for runOn`;
    issues.push(error('run-on', message, [...path, 'runOn'], hint));
  }
}
