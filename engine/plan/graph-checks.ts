import type { CheckGroup, CheckInput } from './checks.ts';
import { error, type RawIssue } from './raw-issue.ts';

/**
 * Checks over the VM dependency graph: cycles, printed as the cycle itself, and group order that
 * contradicts dependsOn (directly or through ungrouped VMs, which would deadlock the step graph).
 * Over the edges that resolve: an unknown or unreadable reference is -1 and left out, so indices
 * stay those of the file.
 */
export function checkDependencyGraph(input: CheckInput, vmIndex: ReadonlyMap<string, number>): RawIssue[] {
  const vms = input.spec.vms;
  const deps = vms.map((vm) =>
    (vm?.dependsOn ?? []).map((name) => (name === undefined ? -1 : (vmIndex.get(name) ?? -1))),
  );
  const cycles = findCycles(deps);
  if (cycles.length > 0) {
    return cycles.map((cycle) => {
      const [from, to] = cycle;
      const j = deps[from ?? 0]?.indexOf(to ?? 0) ?? 0;
      const names = cycle.map((i) => vms[i]?.name ?? '?');
      return error(
        'dependency-cycle',
        `dependency cycle: ${names.join(' → ')}`,
        ['spec', 'vms', from ?? 0, 'dependsOn', j],
        'remove one dependsOn entry of the cycle',
      );
    });
  }
  return checkGroupOrder(input, deps, vmIndex);
}

/**
 * One cycle per strongly connected component (Tarjan, iterative so a 10,000-deep chain cannot
 * overflow the stack), each the shortest loop through the component's first VM in file order.
 */
export function findCycles(deps: readonly (readonly number[])[]): number[][] {
  const n = deps.length;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const cycles: number[][] = [];
  let counter = 0;
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    const work: [number, number][] = [[root, 0]];
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const [v, edge] = frame;
      if (edge === 0) {
        index[v] = low[v] = counter++;
        stack.push(v);
        onStack[v] = 1;
      }
      const out = deps[v] ?? [];
      if (edge < out.length) {
        frame[1] = edge + 1;
        const w = out[edge]!;
        if (w < 0) continue;
        if (index[w] === -1) work.push([w, 0]);
        else if (onStack[w] === 1) low[v] = Math.min(low[v]!, index[w]!);
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low[parent[0]] = Math.min(low[parent[0]]!, low[v]!);
      if (low[v] !== index[v]) continue;
      const component: number[] = [];
      let w: number;
      do {
        w = stack.pop()!;
        onStack[w] = 0;
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (deps[v] ?? []).includes(v)) cycles.push(loopThrough(component, deps));
    }
  }
  return cycles.sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0));
}

function loopThrough(component: number[], deps: readonly (readonly number[])[]): number[] {
  const members = new Set(component);
  const start = Math.min(...component);
  const previous = new Map<number, number>();
  const queue = [start];
  for (let head = 0; head < queue.length; head++) {
    const v = queue[head]!;
    for (const w of deps[v] ?? []) {
      if (w === start) {
        const path = [start];
        for (let at: number | undefined = v; at !== undefined && at !== start; at = previous.get(at))
          path.splice(1, 0, at);
        return [...path, start];
      }
      if (members.has(w) && !previous.has(w) && w !== start) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

function checkGroupOrder(
  input: CheckInput,
  deps: readonly (readonly number[])[],
  vmIndex: ReadonlyMap<string, number>,
): RawIssue[] {
  const vms = input.spec.vms;
  const groups = input.spec.groups ?? [];
  if (groups.length === 0) return [];
  const groupOf = new Int32Array(vms.length).fill(-1);
  groups.forEach((group, g) => {
    for (const name of group?.vms ?? []) {
      const i = name === undefined ? undefined : vmIndex.get(name);
      if (i !== undefined && groupOf[i] === -1) groupOf[i] = g;
    }
  });
  // The latest group each VM must wait for, and which grouped VM imposes it.
  const required = new Int32Array(vms.length).fill(-1);
  const origin = new Int32Array(vms.length).fill(-1);
  const issues: RawIssue[] = [];
  for (const v of topologicalOrder(deps)) {
    let best = -1;
    let bestOrigin = -1;
    let bestEdge = -1;
    (deps[v] ?? []).forEach((d, j) => {
      const effective = groupOf[d]! >= 0 ? groupOf[d]! : required[d]!;
      if (effective > best) {
        best = effective;
        bestOrigin = groupOf[d]! >= 0 ? d : origin[d]!;
        bestEdge = j;
      }
    });
    required[v] = best;
    origin[v] = bestOrigin;
    const own = groupOf[v]!;
    if (own >= 0 && best > own) {
      const vm = vms[v];
      const dep = vm?.dependsOn?.[bestEdge] ?? '?';
      const root = vms[bestOrigin]?.name ?? '?';
      const via = dep === root ? '' : ` through "${dep}"`;
      issues.push(
        error(
          'group-order',
          `"${vm?.name ?? '?'}" is in ${named(groups[own], own)} but depends${via} on "${root}" in the later ${named(groups[best], best)}`,
          ['spec', 'vms', v, 'dependsOn', bestEdge],
          'move the VM to a later group, or its dependency to an earlier one',
        ),
      );
    }
  }
  return issues;
}

/** `group "web"`, or `group #2` when its name is unreadable. */
export function groupLabel(group: CheckGroup | undefined, g: number): string {
  return group?.name === undefined ? `group #${g + 1}` : `group "${group.name}"`;
}

/** `group "web" (#2)`, or `group #2` when its name is unreadable. */
function named(group: CheckGroup | undefined, g: number): string {
  return group?.name === undefined ? groupLabel(group, g) : `${groupLabel(group, g)} (#${g + 1})`;
}

/** Dependencies first (Kahn); assumes no cycles. */
export function topologicalOrder(deps: readonly (readonly number[])[]): number[] {
  const n = deps.length;
  const pending = new Int32Array(n);
  const dependents: number[][] = Array.from({ length: n }, () => []);
  deps.forEach((list, v) => {
    for (const d of list) {
      if (d < 0) continue;
      pending[v]!++;
      dependents[d]!.push(v);
    }
  });
  const order: number[] = [];
  for (let v = 0; v < n; v++) if (pending[v] === 0) order.push(v);
  for (let head = 0; head < order.length; head++) {
    for (const w of dependents[order[head]!]!) if (--pending[w]! === 0) order.push(w);
  }
  return order;
}
