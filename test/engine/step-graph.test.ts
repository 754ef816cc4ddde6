import { describe, expect, it } from 'vitest';
import { encodeStepState, StepGraph } from '../../engine/executor/index.ts';
import type { PlanStep, RecoveryPlan } from '../../engine/plan/types.ts';
import { batchUnits, jobContext, toBullJob, unitJobData, unitJobId } from '../../engine/schedule/index.ts';

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

describe('batch jobs', () => {
  /** Three independent VMs at west and one at east, each failover → boot → readiness. */
  function fleet(): Map<string, PlanStep> {
    const steps: PlanStep[] = [];
    for (const [vm, site] of [
      ['a', 'west'],
      ['b', 'west'],
      ['c', 'west'],
      ['d', 'east'],
    ] as const) {
      steps.push(
        step(`${vm}/failover`, 'failover', site, [], vm),
        step(`${vm}/boot`, 'boot', site, [`${vm}/failover`], vm),
        step(`${vm}/readiness`, 'readiness', site, [`${vm}/boot`], vm),
      );
    }
    const map = new Map(steps.map((s) => [s.id, s]));
    for (const s of steps) for (const a of s.after) map.get(a)?.before.push(s.id);
    return map;
  }

  it('puts the units ready together at one site (same attempt, same backoff) in one batch', () => {
    const graph = new StepGraph(fleet());
    const units = graph.planJobs(graph.readySteps());
    const batches = batchUnits(units, (key) => (key === 'c/failover' ? 500 : 0));
    expect(batches.map((b) => [b.key, b.site, b.delayMs, b.units.map((u) => u.key)])).toEqual([
      ['a/failover', 'west', 0, ['a/failover', 'b/failover']],
      ['c/failover', 'west', 500, ['c/failover']],
      ['d/failover', 'east', 0, ['d/failover']],
    ]);
  });

  it('never puts two units of one VM in one batch', () => {
    const graph = new StepGraph(fleet());
    const [a] = graph.planJobs(['a/failover']);
    const [aBoot] = graph.planJobs(['a/boot']);
    if (!a || !aBoot) throw new Error('no units');
    expect(batchUnits([a, aBoot], () => 0).map((b) => b.units.length)).toEqual([1, 1]);
  });

  it('rebuilds a batch and its units from stored states (resume), the key unit first', () => {
    const queued = (jobKey: string) => encodeStepState({ status: 'queued', attempt: 1, jobKey });
    const stored: Record<string, string> = {};
    for (const vm of ['a', 'b']) {
      for (const kind of ['readiness', 'boot', 'failover']) stored[`${vm}/${kind}`] = queued('b/failover');
    }
    stored['c/failover'] = encodeStepState({ status: 'done', attempt: 1 });
    const graph = new StepGraph(fleet(), stored);
    const [batch, ...others] = graph.queuedBatches();
    expect(others).toEqual([]);
    expect(batch?.key).toBe('b/failover');
    expect(batch?.units.map((u) => u.steps.map((s) => s.id))).toEqual([
      ['b/failover', 'b/boot', 'b/readiness'],
      ['a/failover', 'a/boot', 'a/readiness'],
    ]);
  });

  it('builds one BullMQ job per batch: the batch key as id, each unit its own data, the plan named', () => {
    const graph = new StepGraph(fleet());
    const [batch] = batchUnits(graph.planJobs(['a/failover', 'b/failover']), () => 0);
    if (!batch) throw new Error('no batch');
    const plan = {
      metadata: { name: 'payroll' },
      source: 'east',
      target: 'west',
      vms: [],
      actions: [],
    } as unknown as RecoveryPlan;
    const ctx = jobContext({ execution: 'ex1', epoch: 3, type: 'planned', direction: 'forward', plan });
    const job = toBullJob(ctx, batch);
    expect(job.jobId).toBe('ex1.a/failover');
    expect(job.queue).toBe('site.west');
    expect(job.data.plan).toBe('payroll');
    expect(job.data.units.map((u) => u.vm)).toEqual(['a', 'b']);
    const unit = job.data.units[1];
    if (!unit) throw new Error('no unit');
    expect(unitJobId(job.data, unit)).toBe('ex1.b/failover');
    expect(unitJobData(job.data, unit)).toMatchObject({
      execution: 'ex1',
      epoch: 3,
      site: 'west',
      plan: 'payroll',
      vm: 'b',
      steps: ['b/failover', 'b/boot', 'b/readiness'],
    });
  });
});

describe('follow units (a worker starts the dependents of what it ran)', () => {
  /** Steps from [id, kind, site, after] rows, VM = the id's first segment (none for actions). */
  function graphOf(rows: [string, PlanStep['kind'], string, string[]][]): Map<string, PlanStep> {
    const steps = rows.map(([id, kind, site, after]) =>
      step(id, kind, site, after, kind === 'action' ? undefined : id.split('/')[0]),
    );
    const map = new Map(steps.map((s) => [s.id, s]));
    for (const s of steps) for (const a of s.after) map.get(a)?.before.push(s.id);
    return map;
  }
  const vm = (
    name: string,
    site: string,
    after: string[],
  ): [string, PlanStep['kind'], string, string[]][] => [
    [`${name}/failover`, 'failover', site, after],
    [`${name}/boot`, 'boot', site, [`${name}/failover`]],
    [`${name}/readiness`, 'readiness', site, [`${name}/boot`]],
  ];
  const followsOf = (graph: StepGraph, ready: string[]) => {
    const [batch] = batchUnits(graph.planJobs(ready), () => 0);
    if (!batch) throw new Error('no batch');
    return graph.followsOf(batch).map((f) => [f.after.join(' + '), f.unit.steps.map((s) => s.id).join(' ')]);
  };

  it('follows a chain down, each VM as the unit it would be sent as', () => {
    const graph = new StepGraph(
      graphOf([
        ...vm('db', 'west', []),
        ...vm('app', 'west', ['db/readiness']),
        ...vm('web', 'west', ['app/readiness']),
      ]),
    );
    expect(followsOf(graph, ['db/failover'])).toEqual([
      ['db/failover', 'app/failover app/boot app/readiness'],
      ['app/failover', 'web/failover web/boot web/readiness'],
    ]);
  });

  it('takes a dependent only when everything it waits for is released or a unit of the job', () => {
    const graph = new StepGraph(
      graphOf([
        ...vm('a', 'west', []),
        ...vm('b', 'west', []),
        // waits for a and b, both units of the batch: the last of them to end claims it
        ...vm('ab', 'west', ['a/readiness', 'b/readiness']),
        // waits for a, then for a and a's follow c
        ...vm('c', 'west', ['a/readiness']),
        ...vm('d', 'west', ['c/readiness', 'a/readiness']),
        // waits for a and a step at the source already done
        ['e/fence', 'fence', 'east', []],
        ...vm('e', 'west', ['a/readiness', 'e/fence']),
        // waits for a and a step at the source still running: the orchestrator sends it
        ['f/fence', 'fence', 'east', []],
        ...vm('f', 'west', ['a/readiness', 'f/fence']),
      ]),
    );
    graph.set('e/fence', { status: 'done', attempt: 1 });
    expect(
      followsOf(graph, ['a/failover', 'b/failover']).map(
        ([after, unit]) => `${after} → ${unit?.split(' ')[0]}`,
      ),
    ).toEqual([
      'a/failover + b/failover → ab/failover',
      'a/failover → c/failover',
      'c/failover + a/failover → d/failover',
      'a/failover → e/failover',
    ]);
  });

  it('stops a chain of follows at the depth given: the orchestrator sends the next link', () => {
    const rows = Array.from({ length: 6 }, (_, i) =>
      vm(`v${i}`, 'west', i > 0 ? [`v${i - 1}/readiness`] : []),
    ).flat();
    const graph = new StepGraph(graphOf(rows));
    const [batch] = batchUnits(graph.planJobs(['v0/failover']), () => 0);
    if (!batch) throw new Error('no batch');
    expect(graph.followsOf(batch, 500, 3).map((f) => f.unit.key)).toEqual([
      'v1/failover',
      'v2/failover',
      'v3/failover',
    ]);
    expect(graph.followsOf(batch).map((f) => f.unit.key)).toHaveLength(5);
  });

  it('never follows into another site, an action, a VM already in the batch, a retry or a delayed batch', () => {
    const graph = new StepGraph(
      graphOf([
        ...vm('a', 'west', []),
        ...vm('far', 'east', ['a/readiness']),
        ['action/dns', 'action', 'west', ['a/readiness']],
        ...vm('b', 'west', []),
        ['b/extra', 'boot', 'west', ['a/readiness']],
      ]),
    );
    expect(followsOf(graph, ['a/failover', 'b/failover'])).toEqual([]);
    const [retry] = batchUnits(graph.planJobs(['a/failover']), () => 0);
    if (!retry) throw new Error('no batch');
    expect(graph.followsOf({ ...retry, attempt: 2 })).toEqual([]);
    expect(graph.followsOf({ ...retry, delayMs: 500 })).toEqual([]);
  });

  it('puts the follows in the BullMQ payload, each with the unit it waits for', () => {
    const graph = new StepGraph(graphOf([...vm('db', 'west', []), ...vm('app', 'west', ['db/readiness'])]));
    const [batch] = batchUnits(graph.planJobs(['db/failover']), () => 0);
    if (!batch) throw new Error('no batch');
    batch.follows = graph.followsOf(batch);
    const plan = { metadata: { name: 'p' }, source: 'east', target: 'west', vms: [], actions: [] };
    const ctx = jobContext({
      execution: 'ex1',
      epoch: 1,
      type: 'planned',
      direction: 'forward',
      plan: plan as unknown as RecoveryPlan,
    });
    const job = toBullJob(ctx, batch);
    expect(job.data.follows).toEqual([
      { after: ['db/failover'], vm: 'app', steps: ['app/failover', 'app/boot', 'app/readiness'] },
    ]);
    const follow = job.data.follows?.[0];
    if (!follow) throw new Error('no follow');
    const data = unitJobData(job.data, follow);
    expect(data).not.toHaveProperty('after');
    expect(data).not.toHaveProperty('follows');
    expect(data.steps).toEqual(['app/failover', 'app/boot', 'app/readiness']);
  });
});
