import { describe, expect, it } from 'vitest';
import { encodeStepState, StepGraph } from '../../engine/executor/index.ts';
import type { PlanStep } from '../../engine/plan/types.ts';

function step(id: string, kind: PlanStep['kind'], site: string, after: string[], vm?: string): PlanStep {
  return { id, kind, site, after, before: [], estimateMs: 0, ...(vm ? { vm } : {}) };
}

/** db → app (app boots after db is ready), both failover → boot → readiness at west. */
function twoVms(): Map<string, PlanStep> {
  const steps = [
    step('db/failover', 'failover', 'west', [], 'db'),
    step('db/boot', 'boot', 'west', ['db/failover'], 'db'),
    step('db/readiness', 'readiness', 'west', ['db/boot'], 'db'),
    step('app/failover', 'failover', 'west', ['db/readiness'], 'app'),
    step('app/boot', 'boot', 'west', ['app/failover'], 'app'),
    step('app/readiness', 'readiness', 'west', ['app/boot'], 'app'),
  ];
  const map = new Map(steps.map((s) => [s.id, s]));
  for (const s of steps) for (const a of s.after) map.get(a)?.before.push(s.id);
  return map;
}

describe('the step graph', () => {
  it("merges a VM's failover, boot and readiness at one site into one job", () => {
    const graph = new StepGraph(twoVms());
    expect(graph.readySteps()).toEqual(['db/failover']);
    const [job] = graph.planJobs(graph.readySteps());
    expect(job?.steps.map((s) => s.id)).toEqual(['db/failover', 'db/boot', 'db/readiness']);
  });

  it('releases a dependent only when the dependency is ready', () => {
    const graph = new StepGraph(twoVms());
    expect(graph.set('db/failover', { status: 'done', attempt: 1 })).toEqual(['db/boot']);
    expect(graph.set('db/boot', { status: 'done', attempt: 1 })).toEqual(['db/readiness']);
    expect(graph.set('db/readiness', { status: 'done', attempt: 1 })).toEqual(['app/failover']);
  });

  it('rebuilds from stored states on resume: queued jobs and ready steps', () => {
    const stored = {
      'db/failover': encodeStepState({ status: 'done', attempt: 1 }),
      'db/boot': encodeStepState({ status: 'done', attempt: 1 }),
      'db/readiness': encodeStepState({ status: 'done', attempt: 1 }),
      'app/failover': encodeStepState({ status: 'queued', attempt: 2, jobKey: 'app/failover' }),
      'app/boot': encodeStepState({ status: 'queued', attempt: 2, jobKey: 'app/failover' }),
    };
    const graph = new StepGraph(twoVms(), stored);
    expect(graph.finished).toBe(3);
    expect(graph.readySteps()).toEqual([]);
    const jobs = graph.queuedJobs();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]?.attempt).toBe(2);
    expect(jobs[0]?.steps.map((s) => s.id)).toEqual(['app/failover', 'app/boot']);
  });

  it('finds every dependent of a failed step', () => {
    const graph = new StepGraph(twoVms());
    expect(graph.dependentsOf('db/readiness').sort()).toEqual(['app/boot', 'app/failover', 'app/readiness']);
  });
});
