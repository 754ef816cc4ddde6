import { parseDuration } from '../common/index.ts';
import {
  ALL_FAILOVER_TYPES,
  DEFAULT_ACTION_TIMEOUT_MS,
  DEFAULT_AUTOMATIC_FAILOVER_AFTER_MS,
  DEFAULT_BOOT_ESTIMATE_MS,
  DEFAULT_DRILL_MAX_MS,
  DEFAULT_FAILURE_POLICY,
  DEFAULT_FENCE_DEADLINE_MS,
  DEFAULT_READINESS,
} from './defaults.ts';
import type {
  ActionInput,
  FailurePolicyInput,
  PlanInput,
  ReadinessInput,
  RecoveryPointInput,
} from './schema.ts';
import type {
  ActionRun,
  FailurePolicy,
  NetworkBinding,
  PlanAction,
  PlanVm,
  Readiness,
  ReadinessCheck,
  RecoveryPlan,
  RecoveryPointChoice,
} from './types.ts';

/**
 * YAML as written (already schema- and semantically checked) → the RecoveryPlan contract: durations
 * in ms, shorthands expanded, defaults filled, `runOn` resolved. Pure and total on checked input.
 */
export function normalizePlan(input: PlanInput): RecoveryPlan {
  const spec = input.spec;
  const defaults = spec.defaults ?? {};
  const baseReadiness = readiness(defaults.readiness, DEFAULT_READINESS);
  const basePolicy = failurePolicy(defaults.onFailure, DEFAULT_FAILURE_POLICY);
  const baseBoot =
    defaults.bootEstimate === undefined ? DEFAULT_BOOT_ESTIMATE_MS : parseDuration(defaults.bootEstimate);
  const groups = (spec.groups ?? []).map((group) => ({ name: group.name, vms: [...group.vms] }));
  const groupOf = new Map<string, number>();
  groups.forEach((group, index) => {
    for (const vm of group.vms) groupOf.set(vm, index);
  });

  const vms = spec.vms.map((vm): PlanVm => {
    const out: PlanVm = {
      name: vm.name,
      dependsOn: [...new Set(vm.dependsOn ?? [])],
      readiness: readiness(vm.readiness, baseReadiness),
      bootEstimateMs: vm.bootEstimate === undefined ? baseBoot : parseDuration(vm.bootEstimate),
      network: {},
      onFailure: failurePolicy(vm.onFailure, basePolicy),
    };
    if (vm.network?.failover !== undefined) out.network.failover = binding(vm.network.failover);
    if (vm.network?.test !== undefined) out.network.test = binding(vm.network.test);
    if (vm.recoveryPoint !== undefined) out.recoveryPoint = recoveryPoint(vm.recoveryPoint);
    const group = groupOf.get(vm.name);
    if (group !== undefined) out.group = group;
    return out;
  });

  const groupNames = new Set(groups.map((group) => group.name));
  const actions = (spec.actions ?? []).map((action) => normalizeAction(action, groupNames));

  const automatic = spec.automaticFailover ?? {};
  const plan: RecoveryPlan = {
    apiVersion: 'dr/v1',
    kind: 'RecoveryPlan',
    metadata: { name: input.metadata.name, labels: { ...(input.metadata.labels ?? {}) } },
    source: spec.source,
    target: spec.target,
    recoveryPoint: spec.recoveryPoint === undefined ? { kind: 'latest' } : recoveryPoint(spec.recoveryPoint),
    vms,
    groups,
    actions,
    targets: {},
    drill: {
      maxDurationMs:
        spec.drill?.maxDuration === undefined ? DEFAULT_DRILL_MAX_MS : parseDuration(spec.drill.maxDuration),
    },
    fencing: {
      deadlineMs:
        spec.fencing?.deadline === undefined
          ? DEFAULT_FENCE_DEADLINE_MS
          : parseDuration(spec.fencing.deadline),
    },
    automaticFailover: {
      enabled: automatic.enabled ?? false,
      mode: automatic.mode ?? 'failover',
      afterMs:
        automatic.after === undefined ? DEFAULT_AUTOMATIC_FAILOVER_AFTER_MS : parseDuration(automatic.after),
      recoveryPoint:
        automatic.recoveryPoint !== undefined
          ? recoveryPoint(automatic.recoveryPoint)
          : spec.recoveryPoint === undefined
            ? { kind: 'latest' }
            : recoveryPoint(spec.recoveryPoint),
      vetoMs: automatic.veto === undefined ? 0 : parseDuration(automatic.veto),
    },
  };
  const maxDataLoss = automatic.maxDataLoss ?? spec.targets?.rpo;
  if (maxDataLoss !== undefined) plan.automaticFailover.maxDataLossMs = parseDuration(maxDataLoss);
  if (input.metadata.description !== undefined) plan.metadata.description = input.metadata.description;
  if (spec.targets?.rto !== undefined) plan.targets.rtoMs = parseDuration(spec.targets.rto);
  if (spec.targets?.rpo !== undefined) plan.targets.rpoMs = parseDuration(spec.targets.rpo);
  return plan;
}

function normalizeAction(action: ActionInput, groupNames: ReadonlySet<string>): PlanAction {
  const run = actionRun(action);
  const anchor = action.before ?? action.after ?? '';
  const out: PlanAction = {
    name: action.name,
    when: action.before === undefined ? 'after' : 'before',
    run,
    timeoutMs:
      action.timeout === undefined ? DEFAULT_ACTION_TIMEOUT_MS[run.type] : parseDuration(action.timeout),
    // Canonical order, so [unplanned, planned] and [planned, unplanned] hash alike.
    on: ALL_FAILOVER_TYPES.filter((type) => action.on === undefined || action.on.includes(type)),
    directions: (['forward', 'failback'] as const).filter(
      (d) => action.directions === undefined || action.directions.includes(d),
    ),
    onFailure: failurePolicy(
      action.retries === undefined ? action.onFailure : { ...action.onFailure, retries: action.retries },
      DEFAULT_FAILURE_POLICY,
    ),
  };
  // Names are unique across VMs and groups (checks.ts), so the anchor resolves one way only.
  if (groupNames.has(anchor)) out.group = anchor;
  else out.vm = anchor;
  if (action.undo !== undefined) out.undo = actionRun(action.undo);
  if (action.estimate !== undefined) out.estimateMs = parseDuration(action.estimate);
  return out;
}

type RunFields = Pick<ActionInput, 'script' | 'webhook' | 'manual' | 'args' | 'runOn'>;

function actionRun(fields: RunFields): ActionRun {
  if (fields.script !== undefined) {
    const args: Record<string, string> = {};
    for (const [key, value] of Object.entries(fields.args ?? {})) args[key] = String(value);
    // A site-run script runs at the site being failed over to, in either direction (checks.ts).
    const runOn = fields.runOn === undefined || fields.runOn === 'control' ? 'control' : 'target';
    return { type: 'script', script: fields.script, runOn, args };
  }
  if (fields.webhook !== undefined) {
    return typeof fields.webhook === 'string'
      ? { type: 'webhook', url: fields.webhook, headers: {} }
      : { type: 'webhook', url: fields.webhook.url, headers: { ...(fields.webhook.headers ?? {}) } };
  }
  return { type: 'manual', instruction: fields.manual ?? '' };
}

function readiness(input: ReadinessInput | undefined, base: Readiness): Readiness {
  if (input === undefined) return base;
  const hasChecks =
    input.heartbeat !== undefined ||
    input.tcp !== undefined ||
    input.http !== undefined ||
    input.delay !== undefined;
  if (!hasChecks) {
    return {
      checks: base.checks,
      timeoutMs: input.timeout === undefined ? base.timeoutMs : parseDuration(input.timeout),
      onTimeout: input.onTimeout ?? base.onTimeout,
    };
  }
  const checks: ReadinessCheck[] = [];
  // The heartbeat stays on unless switched off: it is the cheapest proof the guest OS is up.
  if (input.heartbeat !== false) checks.push({ kind: 'heartbeat' });
  for (const port of toArray(input.tcp)) checks.push({ kind: 'tcp', port });
  for (const probe of toArray(input.http)) {
    checks.push({
      kind: 'http',
      port: probe.port,
      path: probe.path ?? '/',
      expectStatus: probe.expectStatus ?? 200,
    });
  }
  if (input.delay !== undefined) checks.push({ kind: 'delay', ms: parseDuration(input.delay) });
  return {
    checks,
    timeoutMs: input.timeout === undefined ? base.timeoutMs : parseDuration(input.timeout),
    onTimeout: input.onTimeout ?? base.onTimeout,
  };
}

function failurePolicy(input: FailurePolicyInput | undefined, base: FailurePolicy): FailurePolicy {
  if (input === undefined) return base;
  const backoff = input.backoff ?? {};
  return {
    retries: input.retries ?? base.retries,
    backoff: {
      initialMs: backoff.initial === undefined ? base.backoff.initialMs : parseDuration(backoff.initial),
      factor: backoff.factor ?? base.backoff.factor,
      maxMs: backoff.max === undefined ? base.backoff.maxMs : parseDuration(backoff.max),
    },
    outcome: input.then ?? base.outcome,
  };
}

function binding(input: string | { network: string; ip?: string | undefined }): NetworkBinding {
  if (typeof input === 'string') return { network: input };
  return input.ip === undefined ? { network: input.network } : { network: input.network, ip: input.ip };
}

function recoveryPoint(input: RecoveryPointInput): RecoveryPointChoice {
  return typeof input === 'string' ? { kind: input } : { kind: 'at', at: input.at };
}

function toArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
