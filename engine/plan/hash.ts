import { createHash } from 'node:crypto';
import { assertNever } from '../common/index.ts';
import { DEFAULT_FENCE_DEADLINE_MS } from './defaults.ts';
import type {
  ActionRun,
  FailurePolicy,
  NetworkBinding,
  PlanAction,
  PlanVm,
  Readiness,
  RecoveryPlan,
} from './types.ts';

/**
 * The plan's content hash: sha256 (hex) of a canonical JSON of the *normalized* plan. Hashing the
 * normalized form rather than the file means comments, formatting, key order, flow vs block style
 * and spelled-out defaults do not change the hash, while anything that changes what an execution
 * would do does. An execution records this hash to name exactly the version it ran.
 *
 * The canonical form is rebuilt field by field in a fixed order (free-form maps such as labels and
 * script args sorted by key), then serialized natively: a generic sorted-keys serializer costs
 * 3-5x more on a 10,000-VM plan.
 */
export function planHash(plan: RecoveryPlan): string {
  return createHash('sha256').update(canonicalPlanJson(plan)).digest('hex');
}

export function canonicalPlanJson(plan: RecoveryPlan): string {
  return JSON.stringify({
    apiVersion: plan.apiVersion,
    kind: plan.kind,
    metadata: {
      name: plan.metadata.name,
      description: plan.metadata.description,
      labels: sorted(plan.metadata.labels),
    },
    source: plan.source,
    target: plan.target,
    recoveryPoint:
      plan.recoveryPoint.kind === 'at'
        ? { kind: 'at', at: plan.recoveryPoint.at }
        : { kind: plan.recoveryPoint.kind },
    vms: plan.vms.map(vm),
    groups: plan.groups.map((group) => ({ name: group.name, vms: group.vms })),
    actions: plan.actions.map(action),
    targets: { rtoMs: plan.targets.rtoMs, rpoMs: plan.targets.rpoMs },
    drill: { maxDurationMs: plan.drill.maxDurationMs },
    // Only when it differs from the default: plans hashed before the field existed keep their hash.
    fencing:
      plan.fencing === undefined || plan.fencing.deadlineMs === DEFAULT_FENCE_DEADLINE_MS
        ? undefined
        : { deadlineMs: plan.fencing.deadlineMs },
    automaticFailover: {
      enabled: plan.automaticFailover.enabled,
      afterMs: plan.automaticFailover.afterMs,
      requireWitness: plan.automaticFailover.requireWitness,
    },
  });
}

function vm(v: PlanVm): unknown {
  return {
    name: v.name,
    dependsOn: v.dependsOn,
    readiness: readiness(v.readiness),
    bootEstimateMs: v.bootEstimateMs,
    network: { failover: binding(v.network.failover), test: binding(v.network.test) },
    recoveryPoint:
      v.recoveryPoint === undefined
        ? undefined
        : v.recoveryPoint.kind === 'at'
          ? { kind: 'at', at: v.recoveryPoint.at }
          : { kind: v.recoveryPoint.kind },
    onFailure: policy(v.onFailure),
    group: v.group,
  };
}

function readiness(r: Readiness): unknown {
  return {
    checks: r.checks.map((c) => {
      switch (c.kind) {
        case 'heartbeat':
          return { kind: c.kind };
        case 'tcp':
          return { kind: c.kind, port: c.port };
        case 'http':
          return { kind: c.kind, port: c.port, path: c.path, expectStatus: c.expectStatus };
        case 'delay':
          return { kind: c.kind, ms: c.ms };
        default:
          return assertNever(c, 'readiness check');
      }
    }),
    timeoutMs: r.timeoutMs,
    onTimeout: r.onTimeout,
  };
}

function policy(p: FailurePolicy): unknown {
  return {
    retries: p.retries,
    backoff: { initialMs: p.backoff.initialMs, factor: p.backoff.factor, maxMs: p.backoff.maxMs },
    outcome: p.outcome,
  };
}

function binding(b: NetworkBinding | undefined): unknown {
  return b === undefined ? undefined : { network: b.network, ip: b.ip };
}

function action(a: PlanAction): unknown {
  return {
    name: a.name,
    when: a.when,
    vm: a.vm,
    group: a.group,
    run: run(a.run),
    timeoutMs: a.timeoutMs,
    on: a.on,
    directions: a.directions,
    onFailure: policy(a.onFailure),
    undo: a.undo === undefined ? undefined : run(a.undo),
    estimateMs: a.estimateMs,
  };
}

function run(r: ActionRun): unknown {
  switch (r.type) {
    case 'script':
      return { type: r.type, script: r.script, runOn: r.runOn, args: sorted(r.args) };
    case 'webhook':
      return { type: r.type, url: r.url, headers: sorted(r.headers) };
    case 'manual':
      return { type: r.type, instruction: r.instruction };
    default:
      return assertNever(r, 'action run');
  }
}

function sorted(record: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key]!;
  return out;
}
