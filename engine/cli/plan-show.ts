import {
  type CompiledPlan,
  DEFAULT_FENCE_DEADLINE_MS,
  formatDuration,
  type PlanIssue,
  type RecoveryPlan,
} from '../plan/index.ts';

/** Text and JSON views of a compiled plan for `drctl plan show`. */
export function planShowText(
  plan: RecoveryPlan,
  hash: string,
  compiled: CompiledPlan,
  options: { all: boolean },
): string {
  const out: string[] = [];
  const { rtoMs, sequentialGroupsRtoMs } = compiled.estimate;
  out.push(
    `plan ${plan.metadata.name} (sha256 ${hash.slice(0, 12)}): ${compiled.type} failover, ${compiled.direction}, ${compiled.source} → ${compiled.target}`,
  );
  out.push(`${plan.vms.length} VMs, ${compiled.steps.size} steps, ${compiled.waves.length} waves`);
  out.push('');
  out.push('Waves (steps that can run at the same time)');
  const shown = options.all ? Number.POSITIVE_INFINITY : 6;
  const width = String(compiled.waves.length).length;
  compiled.waves.forEach((wave, i) => {
    const head = wave.slice(0, shown).join(', ');
    const more = wave.length > shown ? ` … and ${wave.length - shown} more` : '';
    out.push(`  ${String(i + 1).padStart(width)}  [${wave.length}] ${head}${more}`);
  });
  out.push('');
  out.push(`Critical path (${formatDuration(compiled.criticalPath.ms)} simulated)`);
  out.push(`  ${compiled.criticalPath.steps.join(' → ')}`);
  out.push('');
  out.push("RTO estimate (simulated time: the plan's step estimates, not a wall-clock measurement)");
  const saved = sequentialGroupsRtoMs - rtoMs;
  const pct = sequentialGroupsRtoMs > 0 ? Math.round((saved / sequentialGroupsRtoMs) * 100) : 0;
  out.push(`  dependency graph            ${formatDuration(rtoMs)}`);
  out.push(
    `  sequential groups (ASR/SRM) ${formatDuration(sequentialGroupsRtoMs)}${saved > 0 ? `  (the graph saves ${formatDuration(saved)}, ${pct}%)` : ''}`,
  );
  if (plan.targets.rtoMs !== undefined) {
    const verdict = rtoMs <= plan.targets.rtoMs ? 'met' : 'EXCEEDED by the estimate';
    out.push(`  target                      ${formatDuration(plan.targets.rtoMs)}  (${verdict})`);
  }
  out.push('');
  out.push('Estimates are orchestration time: failover 5s per VM, boot = bootEstimate, fixed delays,');
  out.push('action estimates (manual steps 0 unless they set `estimate`). See engine/plan/estimate.ts.');
  if (compiled.type === 'unplanned') {
    const deadline = formatDuration(plan.fencing?.deadlineMs ?? DEFAULT_FENCE_DEADLINE_MS);
    out.push(`Unplanned: every source VM is fenced first (5s, in parallel); a source that does not answer`);
    out.push(`adds up to the fencing deadline (${deadline}) before the failovers start.`);
  }
  return `${out.join('\n')}\n`;
}

export function planShowJson(
  file: string,
  plan: RecoveryPlan,
  hash: string,
  compiled: CompiledPlan,
  warnings: readonly PlanIssue[] = [],
): Record<string, unknown> {
  return {
    file,
    warnings,
    name: plan.metadata.name,
    hash,
    type: compiled.type,
    direction: compiled.direction,
    source: compiled.source,
    target: compiled.target,
    vms: plan.vms.length,
    estimate: compiled.estimate,
    targets: plan.targets,
    criticalPath: compiled.criticalPath,
    waves: compiled.waves,
    vmOrder: compiled.vmOrder,
    steps: [...compiled.steps.values()],
  };
}
