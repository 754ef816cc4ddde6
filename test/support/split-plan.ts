/**
 * One plan split in several over the same simulated world: the example's text with only some of
 * its VMs (their dependencies on the others and the plan's actions dropped), under another name,
 * so two plans can hold their locks at once.
 */
import { parseDocument } from 'yaml';
import { parsePlan } from '../../engine/plan/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';

/** The example's plan with only `vm` (its dependencies and actions dropped), named `name`. */
export function splitPlan(text: string, name: string, vm: string): string {
  const doc = parseDocument(text);
  doc.setIn(['metadata', 'name'], name);
  const vms = (doc.getIn(['spec', 'vms']) as { items: { get(k: string): unknown }[] }).items.filter(
    (item) => item.get('name') === vm,
  );
  doc.setIn(['spec', 'vms'], doc.createNode([]));
  for (const item of vms) {
    const node = item as unknown as { delete(k: string): void };
    node.delete('dependsOn');
    (doc.getIn(['spec', 'vms']) as { add(v: unknown): void }).add(item);
  }
  doc.deleteIn(['spec', 'actions']);
  return doc.toString();
}

/** `splitPlan`, parsed: its text, the plan and its hash. */
export function splitParsed(
  text: string,
  name: string,
  vm: string,
): { text: string; plan: RecoveryPlan; hash: string } {
  const split = splitPlan(text, name, vm);
  const parsed = parsePlan(split, `${name}.yaml`);
  if (!parsed.ok) throw new Error(parsed.issues.map((i) => i.message).join('; '));
  return { text: split, plan: parsed.plan, hash: parsed.hash };
}
