import { formatDuration, parseDuration } from '../common/index.ts';
import { DEFAULT_AUTOMATIC_FAILOVER_AFTER_MS, SITE_LEASE_MS } from './defaults.ts';
import { checkDependencyGraph, groupLabel } from './graph-checks.ts';
import { error, type RawIssue, warning } from './raw-issue.ts';
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
 * What the semantic checks read. A schema-valid plan (PlanInput) is one; a plan that failed the
 * schema is read as far as it is well-formed (salvage.ts): an entry that is not a mapping is a hole
 * (`undefined`) so indices stay those of the file, a name or reference that is not a string is
 * absent, and values the checks only test for presence (before, script, ...) are kept as written.
 */
export interface CheckInput {
  spec: {
    source?: string | undefined;
    target?: string | undefined;
    vms: readonly (CheckVm | undefined)[];
    groups?: readonly (CheckGroup | undefined)[] | undefined;
    actions?: readonly (CheckAction | undefined)[] | undefined;
    automaticFailover?: { enabled?: unknown; after?: string | undefined } | undefined;
  };
  /**
   * False when some VM or group has no readable name: a reference that matches no known name may
   * be meant for it, so unknown references are not reported (the schema reports the missing name).
   */
  namesComplete?: boolean;
}

export interface CheckVm {
  name?: string | undefined;
  dependsOn?: readonly (string | undefined)[] | undefined;
}

export interface CheckGroup {
  name?: string | undefined;
  vms?: readonly (string | undefined)[] | undefined;
}

export interface CheckRun {
  script?: unknown;
  webhook?: unknown;
  manual?: unknown;
  args?: unknown;
  runOn?: unknown;
  /** Has keys the schema does not know (a misspelled kind): checks for what is missing are skipped. */
  unknownKeys?: boolean;
}

export interface CheckAction extends CheckRun {
  name?: string | undefined;
  before?: unknown;
  after?: unknown;
  undo?: CheckRun | undefined;
}

/**
 * Every semantic check, all in one pass: the admin fixes the whole file at once instead of one
 * error per run. Works on a schema-valid plan or on the well-formed part of one that is not.
 */
export function checkPlan(input: CheckInput, options: CheckOptions = {}): RawIssue[] {
  const issues: RawIssue[] = [];
  const spec = input.spec;
  const namesComplete = input.namesComplete ?? true;
  if (spec.source !== undefined && spec.source === spec.target) {
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
  let duplicateVm = false;
  spec.vms.forEach((vm, i) => {
    if (vm?.name === undefined) return;
    const first = vmIndex.get(vm.name);
    if (first !== undefined) {
      duplicateVm = true;
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
  const groupIndex = checkGroups(input, vmIndex, vmNames, namesComplete, issues);
  checkDependsOn(input, vmIndex, vmNames, namesComplete, issues);
  checkActions(input, vmIndex, groupIndex, namesComplete, issues);

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
  // Cycles and group order over the edges that resolve: an unknown name is reported above and its
  // edge left out, and fewer edges never make a false cycle or a false group contradiction. Two VMs
  // with one name make every edge to it ambiguous, so the graph waits for the names to be fixed.
  if (!duplicateVm) issues.push(...checkDependencyGraph(input, vmIndex));
  return issues;
}

function checkGroups(
  input: CheckInput,
  vmIndex: ReadonlyMap<string, number>,
  vmNames: readonly string[],
  namesComplete: boolean,
  issues: RawIssue[],
): Map<string, number> {
  const groupIndex = new Map<string, number>();
  const memberOf = new Map<string, string>();
  (input.spec.groups ?? []).forEach((group, g) => {
    if (group === undefined) return;
    const label = groupLabel(group, g);
    if (group.name !== undefined) {
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
    }
    (group.vms ?? []).forEach((vm, j) => {
      if (vm === undefined) return;
      const path = ['spec', 'groups', g, 'vms', j];
      if (!vmIndex.has(vm)) {
        if (namesComplete) {
          issues.push(
            error('unknown-vm', `${label} lists unknown VM "${vm}"`, path, didYouMean(vm, vmNames)),
          );
        }
        return;
      }
      const other = memberOf.get(vm);
      if (other !== undefined) {
        issues.push(
          error(
            'duplicate-group-member',
            `VM "${vm}" is already in ${other}`,
            path,
            'a VM belongs to one group',
          ),
        );
      } else {
        memberOf.set(vm, label);
      }
    });
  });
  return groupIndex;
}

function checkDependsOn(
  input: CheckInput,
  vmIndex: ReadonlyMap<string, number>,
  vmNames: readonly string[],
  namesComplete: boolean,
  issues: RawIssue[],
): void {
  input.spec.vms.forEach((vm, i) => {
    if (vm?.dependsOn === undefined) return;
    const label = vm.name === undefined ? `VM #${i + 1}` : `"${vm.name}"`;
    const seen = new Set<string>();
    vm.dependsOn.forEach((dep, j) => {
      if (dep === undefined) return;
      const path = ['spec', 'vms', i, 'dependsOn', j];
      if (!vmIndex.has(dep)) {
        if (namesComplete) {
          issues.push(
            error('unknown-vm', `${label} depends on unknown VM "${dep}"`, path, didYouMean(dep, vmNames)),
          );
        }
      } else if (seen.has(dep)) {
        issues.push(warning('duplicate-dependency', `${label} lists "${dep}" twice`, path));
      }
      seen.add(dep);
    });
  });
}

function checkActions(
  input: CheckInput,
  vmIndex: ReadonlyMap<string, number>,
  groupIndex: ReadonlyMap<string, number>,
  namesComplete: boolean,
  issues: RawIssue[],
): void {
  const spec = input.spec;
  const names = new Map<string, number>();
  const anchors = [...vmIndex.keys(), ...groupIndex.keys()];
  (spec.actions ?? []).forEach((action, a) => {
    if (action === undefined) return;
    const at = (...rest: PropertyKey[]) => ['spec', 'actions', a, ...rest];
    const label = action.name === undefined ? `action #${a + 1}` : `action "${action.name}"`;
    if (action.name !== undefined) {
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
    }
    const anchorCount = Number(action.before !== undefined) + Number(action.after !== undefined);
    // With neither, a key the schema did not know is most likely the misspelled anchor.
    if (anchorCount === 2 || (anchorCount === 0 && action.unknownKeys !== true)) {
      issues.push(
        error(
          'action-anchor',
          `${label} needs exactly one of before / after`,
          at(action.after === undefined ? 'name' : 'after'),
          'e.g. before: sql-01 or after: web-tier',
        ),
      );
    }
    for (const key of ['before', 'after'] as const) {
      const ref = action[key];
      if (typeof ref === 'string' && !vmIndex.has(ref) && !groupIndex.has(ref) && namesComplete) {
        issues.push(
          error(
            'unknown-vm',
            `${label} runs ${key} unknown VM or group "${ref}"`,
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

function checkRun(
  run: CheckRun,
  source: string | undefined,
  target: string | undefined,
  path: PropertyKey[],
  issues: RawIssue[],
): void {
  const kinds = (['script', 'webhook', 'manual'] as const).filter((kind) => run[kind] !== undefined);
  if (kinds.length > 1 || (kinds.length === 0 && run.unknownKeys !== true)) {
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
  // A misspelled `script` key would make these contradict the schema's "did you mean script".
  const scriptless = run.script === undefined && run.unknownKeys !== true;
  if (scriptless && run.runOn !== undefined) {
    issues.push(
      error(
        'run-on',
        'runOn applies to scripts only',
        [...path, 'runOn'],
        'webhooks and manual steps run on the control plane',
      ),
    );
  }
  if (scriptless && run.args !== undefined) {
    issues.push(error('args', 'args apply to scripts only', [...path, 'args']));
  }
  const runOn = run.runOn;
  if (
    !scriptless &&
    typeof runOn === 'string' &&
    target !== undefined &&
    runOn !== 'control' &&
    runOn !== 'target' &&
    runOn !== target
  ) {
    const hint = 'a script runs on the control plane or at the site being failed over to: control | target';
    const message =
      runOn === source
        ? `a script cannot run at the source "${source}": it may be down during failover`
        : `unknown site "${runOn}" for runOn`;
    issues.push(error('run-on', message, [...path, 'runOn'], hint));
  }
}
