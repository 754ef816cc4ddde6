import { actionEstimateMs } from './estimate.ts';
import type { PlanAction, PlanStep, StepKind } from './types.ts';

/**
 * Builds the step map with both edge directions. Kept allocation-light: a 10,000-VM planned
 * failover is 40,000 steps, and the compile budget is a few hundred milliseconds.
 */
export class StepBuilder {
  readonly steps = new Map<string, PlanStep>();

  constructor(private readonly targetSite: string) {}

  add(id: string, kind: StepKind, site: string, estimateMs: number, vm?: string, group?: string): string {
    this.steps.set(id, step(id, kind, site, estimateMs, vm, undefined, group));
    return id;
  }

  edge(from: string, to: string): void {
    this.steps.get(from)!.before.push(to);
    this.steps.get(to)!.after.push(from);
  }

  /** Adds actions as a chain in file order after `head` (if any); returns the chain's last step. */
  chain(
    actions: readonly PlanAction[] | undefined,
    head: string | undefined,
    group?: string,
  ): string | undefined {
    let tail = head;
    if (actions === undefined) return tail;
    for (const action of actions) {
      const site =
        action.run.type === 'script' && action.run.runOn === 'target' ? this.targetSite : 'control';
      const id = `action/${action.name}`;
      this.steps.set(id, step(id, 'action', site, actionEstimateMs(action), action.vm, action.name, group));
      if (tail !== undefined) this.edge(tail, id);
      tail = id;
    }
    return tail;
  }
}

/**
 * Every step has the same object shape (absent fields are present as undefined, which JSON drops):
 * one hidden class keeps property access monomorphic in the passes over 40,000 steps.
 */
function step(
  id: string,
  kind: StepKind,
  site: string,
  estimateMs: number,
  vm: string | undefined,
  action: string | undefined,
  group: string | undefined,
): PlanStep {
  return { id, kind, vm, action, group, site, estimateMs, after: [], before: [] };
}

/** Actions of one run, by the VM or group they are attached to. */
export interface AttachedActions {
  vmBefore: Map<string, PlanAction[]>;
  vmAfter: Map<string, PlanAction[]>;
  groupBefore: Map<string, PlanAction[]>;
  groupAfter: Map<string, PlanAction[]>;
}

export function attachActions(actions: readonly PlanAction[]): AttachedActions {
  const out: AttachedActions = {
    vmBefore: new Map(),
    vmAfter: new Map(),
    groupBefore: new Map(),
    groupAfter: new Map(),
  };
  for (const action of actions) {
    const map =
      action.vm !== undefined
        ? action.when === 'before'
          ? out.vmBefore
          : out.vmAfter
        : action.when === 'before'
          ? out.groupBefore
          : out.groupAfter;
    const key = action.vm ?? action.group ?? '';
    const list = map.get(key);
    if (list === undefined) map.set(key, [action]);
    else list.push(action);
  }
  return out;
}

export function sumEstimates(actions: readonly PlanAction[] | undefined): number {
  let sum = 0;
  for (const action of actions ?? []) sum += actionEstimateMs(action);
  return sum;
}

/**
 * Kahn's algorithm by levels over integer indices: a topological order, the waves (steps that can
 * run together) and, in the same pass, earliest finish times for the critical path.
 */
export function analyse(steps: ReadonlyMap<string, PlanStep>): {
  order: PlanStep[];
  waves: string[][];
  criticalPath: { steps: string[]; ms: number };
} {
  const list = [...steps.values()];
  const index = new Map<string, number>();
  for (let i = 0; i < list.length; i++) index.set(list[i]!.id, i);
  const pending = new Int32Array(list.length);
  const finish = new Float64Array(list.length);
  const via = new Int32Array(list.length).fill(-1);
  let current: number[] = [];
  list.forEach((step, i) => {
    pending[i] = step.after.length;
    if (step.after.length === 0) current.push(i);
  });
  const order: PlanStep[] = [];
  const waves: string[][] = [];
  let end = -1;
  let endAt = -1;
  while (current.length > 0) {
    const wave: string[] = [];
    const next: number[] = [];
    for (const i of current) {
      const step = list[i]!;
      wave.push(step.id);
      order.push(step);
      const done = finish[i]! + step.estimateMs;
      finish[i] = done;
      // >= so that among equal finishes the path ends at the last step (a group barrier, say).
      if (done >= end) {
        end = done;
        endAt = i;
      }
      for (const id of step.before) {
        const j = index.get(id)!;
        // finish[j] holds the latest predecessor finish (its start) until j is visited.
        if (via[j] === -1 || done > finish[j]!) {
          finish[j] = done;
          via[j] = i;
        }
        if (--pending[j]! === 0) next.push(j);
      }
    }
    waves.push(wave);
    current = next;
  }
  const path: string[] = [];
  for (let at = endAt; at !== -1; at = via[at]!) path.push(list[at]!.id);
  return { order, waves, criticalPath: { steps: path.reverse(), ms: Math.max(0, end) } };
}
