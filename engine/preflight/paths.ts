/**
 * `spec.vms[12].network.test` → `['spec', 'vms', 12, 'network', 'test']`: the segment form
 * engine/plan's Locator takes, so a caller holding the plan text can turn a finding's path into
 * file:line:column.
 */
export function pathSegments(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (match[2] !== undefined) out.push(Number(match[2]));
    else if (match[1] !== undefined) out.push(match[1]);
  }
  return out;
}
