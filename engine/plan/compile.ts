import { Graph } from '@dagrejs/graphlib';
import { FAILOVER_STEP_MS, FENCE_STEP_MS, SHUTDOWN_STEP_MS, sequentialGroupsEstimate } from './estimate.ts';
import { type AttachedActions, analyse, attachActions, StepBuilder, sumEstimates } from './step-builder.ts';
import type { Direction, FailoverType, PlanAction, PlanStep, RecoveryPlan } from './types.ts';

/** Options of compilePlan. */
export interface CompileOptions {
  type: FailoverType;
  /** @defaultValue 'forward' */
  direction?: Direction;
}

export interface CompiledPlan {
  type: FailoverType;
  direction: Direction;
  /** Site failed over from (spec.source, or spec.target for a failback). */
  source: string;
  /** Site failed over to. */
  target: string;
  /** Every step by id, barriers included (see compilePlan). Insertion order is not meaningful. */
  steps: ReadonlyMap<string, PlanStep>;
  /** The step graph as graphlib, built on first call (a 10,000-VM plan does not need it to run). */
  graph(): Graph<PlanStep>;
  /** Topological levels: every step of wave N+1 waits only for steps of waves 0..N. */
  waves: string[][];
  /** The longest chain of estimates through the graph; its length is the RTO estimate. */
  criticalPath: { steps: string[]; ms: number };
  /** rtoMs: this graph; sequentialGroupsRtoMs: the same plan as strictly ordered groups (ASR/SRM). */
  estimate: { rtoMs: number; sequentialGroupsRtoMs: number };
  /** VMs in the order their failover can start (topological). */
  vmOrder: string[];
}

/**
 * A validated plan → the step graph of one run (pure, no I/O).
 *
 * Per VM: before-actions → failover → boot → readiness → after-actions. A VM's first step waits for
 * the last step of each dependency (its readiness, or its last after-action). Actions attached to
 * the same VM or group run one after another in file order. Actions whose `on`/`directions` exclude
 * this run are left out.
 *
 * Groups: group N+1's first steps (after its before-actions) wait for `barrier/group/<N>`, which
 * waits for every VM of group N; a group's after-actions follow its barrier. Barriers are real
 * steps (kind 'barrier', site 'control', 0 ms) so the edge count stays O(n), not O(n²).
 *
 * Planned failover adds the shutdown at the source first: dependents shut down before what they
 * depend on, later groups before earlier ones (`barrier/group/<N>/shutdown`), and a VM's (or a
 * group's) before-actions run before its shutdown, the first time the plan touches it. Every
 * shutdown precedes every failover through `barrier/shutdown`.
 *
 * Unplanned failover fences the source first (ASR's "shut down source machines"): `<vm>/fence` at
 * the source site, a root of the graph (every fence starts at once, not in dependency order) and a
 * predecessor of that VM's failover only. The executor ends a fence it cannot carry out `warned`
 * (source unreachable, or past the plan's fencing deadline) and the failover goes on.
 */
export function compilePlan(plan: RecoveryPlan, options: CompileOptions): CompiledPlan {
  const direction = options.direction ?? 'forward';
  const type = options.type;
  const from = direction === 'forward' ? plan.source : plan.target;
  const to = direction === 'forward' ? plan.target : plan.source;
  const planned = type === 'planned';
  const b = new StepBuilder(to);
  const attached = attachActions(
    plan.actions.filter((a) => a.on.includes(type) && a.directions.includes(direction)),
  );
  const { vmBefore, vmAfter, groupBefore, groupAfter } = attached;

  const head = new Map<string, string>();
  const tail = new Map<string, string>();
  const pipelineMs = new Map<string, number>();
  for (const vm of plan.vms) {
    const before = planned ? undefined : vmBefore.get(vm.name);
    const beforeTail = b.chain(before, undefined);
    const failover = b.add(`${vm.name}/failover`, 'failover', to, FAILOVER_STEP_MS, vm.name);
    if (beforeTail !== undefined) b.edge(beforeTail, failover);
    const boot = b.add(`${vm.name}/boot`, 'boot', to, vm.bootEstimateMs, vm.name);
    b.edge(failover, boot);
    let delay = 0;
    for (const check of vm.readiness.checks) if (check.kind === 'delay' && check.ms > delay) delay = check.ms;
    const ready = b.add(`${vm.name}/readiness`, 'readiness', to, delay, vm.name);
    b.edge(boot, ready);
    const after = vmAfter.get(vm.name);
    tail.set(vm.name, b.chain(after, ready) ?? ready);
    head.set(vm.name, before?.[0] === undefined ? failover : `action/${before[0].name}`);
    pipelineMs.set(
      vm.name,
      FAILOVER_STEP_MS + vm.bootEstimateMs + delay + sumEstimates(before) + sumEstimates(after),
    );
  }
  for (const vm of plan.vms) for (const dep of vm.dependsOn) b.edge(tail.get(dep)!, head.get(vm.name)!);

  const groupActionsMs = new Map<string, number>();
  let previous: string | undefined;
  for (const group of plan.groups) {
    const before = groupBefore.get(group.name);
    const after = groupAfter.get(group.name);
    groupActionsMs.set(group.name, (planned ? 0 : sumEstimates(before)) + sumEstimates(after));
    const gate = planned ? previous : b.chain(before, previous, group.name);
    if (gate !== undefined) for (const vm of group.vms) b.edge(gate, head.get(vm)!);
    const barrier = b.add(`barrier/group/${group.name}`, 'barrier', 'control', 0, undefined, group.name);
    for (const vm of group.vms) b.edge(tail.get(vm)!, barrier);
    previous = b.chain(after, barrier, group.name) ?? barrier;
  }

  if (planned) addShutdownPhase(plan, from, attached, b);
  if (type === 'unplanned') {
    for (const vm of plan.vms) {
      b.edge(b.add(`${vm.name}/fence`, 'fence', from, FENCE_STEP_MS, vm.name), `${vm.name}/failover`);
    }
  }
  const shutdown = planned
    ? { perGroupMs: SHUTDOWN_STEP_MS, actionsMs: sumAll(vmBefore) + sumAll(groupBefore) }
    : undefined;

  const { order, waves, criticalPath } = analyse(b.steps);
  if (order.length !== b.steps.size) throw new Error('internal: the compiled step graph has a cycle');
  const vmOrder: string[] = [];
  for (const step of order) if (step.kind === 'failover' && step.vm !== undefined) vmOrder.push(step.vm);
  let graph: Graph<PlanStep> | undefined;
  return {
    type,
    direction,
    source: from,
    target: to,
    steps: b.steps,
    graph: () => {
      graph ??= toGraph(b.steps);
      return graph;
    },
    waves,
    criticalPath,
    estimate: {
      rtoMs: criticalPath.ms,
      sequentialGroupsRtoMs: sequentialGroupsEstimate(
        plan,
        pipelineMs,
        groupActionsMs,
        vmOrder,
        shutdown,
        type === 'unplanned' ? FENCE_STEP_MS : 0,
      ),
    },
    vmOrder,
  };
}

/** Planned failover: the shutdown half, mirrored (dependents and later groups first). */
function addShutdownPhase(plan: RecoveryPlan, site: string, attached: AttachedActions, b: StepBuilder): void {
  const roots: string[] = [];
  for (const step of b.steps.values()) if (step.after.length === 0) roots.push(step.id);
  const entry = new Map<string, string>();
  const all = b.add('barrier/shutdown', 'barrier', 'control', 0);
  for (const vm of plan.vms) {
    const actions = attached.vmBefore.get(vm.name);
    const before = b.chain(actions, undefined);
    const id = b.add(`${vm.name}/shutdown`, 'shutdown', site, SHUTDOWN_STEP_MS, vm.name);
    if (before !== undefined) b.edge(before, id);
    b.edge(id, all);
    entry.set(vm.name, actions?.[0] === undefined ? id : `action/${actions[0].name}`);
  }
  for (const vm of plan.vms) for (const dep of vm.dependsOn) b.edge(`${vm.name}/shutdown`, entry.get(dep)!);
  let previous: string | undefined;
  for (let g = plan.groups.length - 1; g >= 0; g--) {
    const group = plan.groups[g]!;
    const gate = b.chain(attached.groupBefore.get(group.name), previous, group.name);
    if (gate !== undefined) for (const vm of group.vms) b.edge(gate, entry.get(vm)!);
    const barrier = b.add(
      `barrier/group/${group.name}/shutdown`,
      'barrier',
      'control',
      0,
      undefined,
      group.name,
    );
    for (const vm of group.vms) b.edge(`${vm}/shutdown`, barrier);
    previous = barrier;
  }
  for (const id of roots) b.edge(all, id);
}

function sumAll(map: ReadonlyMap<string, readonly PlanAction[]>): number {
  let sum = 0;
  for (const actions of map.values()) sum += sumEstimates(actions);
  return sum;
}

function toGraph(steps: ReadonlyMap<string, PlanStep>): Graph<PlanStep> {
  const graph = new Graph<PlanStep>({ directed: true });
  for (const step of steps.values()) graph.setNode(step.id, step);
  for (const step of steps.values()) for (const next of step.before) graph.setEdge(step.id, next);
  return graph;
}
