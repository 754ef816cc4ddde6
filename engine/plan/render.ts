import { assertNever, formatDuration } from '../common/index.ts';
import type { CompiledPlan } from './compile.ts';
import type { PlanStep } from './types.ts';

export type RenderFormat = 'mermaid' | 'dot';

/**
 * Draws the step graph for `drctl plan show --format`: Mermaid (renders in GitHub markdown) or
 * Graphviz DOT. Steps on the critical path are highlighted; labels carry the estimate.
 */
export function renderGraph(compiled: CompiledPlan, format: RenderFormat): string {
  switch (format) {
    case 'mermaid':
      return mermaid(compiled);
    case 'dot':
      return dot(compiled);
    default:
      return assertNever(format, 'render format');
  }
}

function label(step: PlanStep): string {
  const estimate = step.estimateMs > 0 ? ` ${formatDuration(step.estimateMs)}` : '';
  switch (step.kind) {
    case 'action':
      return `${step.action ?? step.id}${estimate}`;
    case 'barrier':
      return step.id.replace(/^barrier\//, '');
    default:
      return `${step.vm ?? step.id} ${step.kind}${estimate}`;
  }
}

function mermaid(compiled: CompiledPlan): string {
  // Mermaid ids must be plain words; step ids contain '/' and '.', so number the nodes.
  const ids = new Map<string, string>();
  let n = 0;
  for (const id of compiled.steps.keys()) ids.set(id, `s${n++}`);
  const critical = new Set(compiled.criticalPath.steps);
  const lines = [`flowchart LR`];
  for (const step of compiled.steps.values()) {
    const text = label(step).replace(/"/g, '#quot;');
    const id = ids.get(step.id)!;
    const shape =
      step.kind === 'barrier' ? `(("${text}"))` : step.kind === 'action' ? `(["${text}"])` : `["${text}"]`;
    lines.push(`  ${id}${shape}${critical.has(step.id) ? ':::critical' : ''}`);
  }
  for (const step of compiled.steps.values()) {
    for (const next of step.before) lines.push(`  ${ids.get(step.id)} --> ${ids.get(next)}`);
  }
  lines.push('  classDef critical stroke:#d33,stroke-width:3px');
  return `${lines.join('\n')}\n`;
}

function dot(compiled: CompiledPlan): string {
  const quote = (text: string) => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const critical = new Set(compiled.criticalPath.steps);
  const lines = ['digraph plan {', '  rankdir=LR;', '  node [shape=box, fontname="Helvetica"];'];
  for (const step of compiled.steps.values()) {
    const shape = step.kind === 'barrier' ? 'circle' : step.kind === 'action' ? 'note' : 'box';
    const style = critical.has(step.id) ? ', color="#d33", penwidth=2' : '';
    lines.push(`  ${quote(step.id)} [label=${quote(label(step))}, shape=${shape}${style}];`);
  }
  for (const step of compiled.steps.values()) {
    for (const next of step.before) lines.push(`  ${quote(step.id)} -> ${quote(next)};`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
