/**
 * The fence deadline's decisions (orchestrator/best-effort.ts) on the in-memory progress of an
 * unplanned failover: nothing before the deadline, every fence still queued warned at it, the
 * failovers released, and a fence result arriving afterwards changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/common/index.ts';
import { stepJobId } from '../../engine/contract/index.ts';
import { FenceDeadline } from '../../engine/executor/orchestrator/best-effort.ts';
import { ExecutionProgress } from '../../engine/executor/orchestrator/progress.ts';
import { compilePlan, parsePlan } from '../../engine/plan/index.ts';
import { jobContext } from '../../engine/schedule/index.ts';

const silent = createLogger('test', { level: 'silent', pretty: false });
const START = Date.parse('2026-01-01T00:00:00Z');

function progressOf(text: string, type: 'unplanned' | 'planned' = 'unplanned') {
  const parsed = parsePlan(text, 'plan.yaml');
  if (!parsed.ok) throw new Error(parsed.issues[0]?.message);
  const plan = parsed.plan;
  const ctx = jobContext({ execution: 'ex9', epoch: 7, type, direction: 'forward', plan });
  const steps = compilePlan(plan, { type }).steps;
  return new ExecutionProgress(ctx, steps, {}, {}, silent, () => START);
}

const PLAN = `apiVersion: dr/v1
kind: RecoveryPlan
metadata: { name: p }
spec:
  source: dc-east
  target: dc-west
  fencing: { deadline: 30s }
  vms:
    - { name: db }
    - { name: web, dependsOn: [db] }
`;

describe('the fence deadline', () => {
  it('warns the fences still queued at the deadline and releases their failovers, once', () => {
    const progress = progressOf(PLAN);
    progress.seedReady();
    const first = progress.drain();
    // Both fences go out at once (one batch job at the source); nothing else is ready.
    expect(first.jobs.flatMap((job) => job.data.units.flatMap((u) => u.steps))).toEqual([
      'db/fence',
      'web/fence',
    ]);
    const deadline = FenceDeadline.of(progress, START);
    expect(deadline?.deadlineAt).toBe(START + 30_000);
    expect(deadline?.expire(START + 29_999)).toBe(0);
    expect(progress.graph.state('db/fence').status).toBe('queued');

    expect(deadline?.expire(START + 30_000)).toBe(2);
    const { write, jobs } = progress.drain();
    expect(Object.fromEntries(write.steps)).toMatchObject({
      'db/fence': 'warned|1',
      'web/fence': 'warned|1',
    });
    // db has no dependencies: its failover goes now; web's waits for db as before.
    expect(jobs.flatMap((job) => job.data.units.flatMap((u) => u.steps))).toEqual([
      'db/failover',
      'db/boot',
      'db/readiness',
    ]);
    const events = write.events.map((e) => JSON.parse(e));
    expect(events.filter((e) => e.type === 'step-finished')).toEqual([
      expect.objectContaining({
        step: 'db/fence',
        site: 'dc-east',
        outcome: 'warned',
        output: { fenced: false, site: 'dc-east', reason: 'deadline', deadlineMs: 30_000 },
        error: {
          code: 'NOT_FENCED',
          message:
            'source site dc-east unreachable: db not fenced within 30s; it will be fenced when its agent returns (the fence job stays queued at dc-east)',
          retryable: false,
        },
      }),
      expect.objectContaining({ step: 'web/fence', outcome: 'warned' }),
    ]);
    expect(events.filter((e) => e.type === 'vm-phase').map((e) => [e.vm, e.phase, e.detail])).toEqual([
      ['db', 'waiting', 'source NOT fenced: dc-east did not answer within 30s'],
      ['web', 'waiting', 'source NOT fenced: dc-east did not answer within 30s'],
    ]);
    expect(deadline?.expire(START + 60_000)).toBe(0);
  });

  it('ignores the fence job when its site returns and it reports after all', () => {
    const progress = progressOf(PLAN);
    progress.seedReady();
    const [fenceJob] = progress.drain().jobs;
    FenceDeadline.of(progress, START)?.expire(START + 30_000);
    progress.drain();
    const at = new Date(START + 90_000).toISOString();
    progress.applyResult(fenceJob?.jobId ?? '', {
      v: 1,
      steps: ['db/fence', 'web/fence'].map((id) => ({
        id,
        outcome: 'done' as const,
        startedAt: at,
        endedAt: at,
        output: { fenced: true },
      })),
    });
    expect(progress.graph.state('db/fence').status).toBe('warned');
    const { write, jobs } = progress.drain();
    expect(write.steps).toEqual([]);
    expect(write.doneDelta).toBe(0);
    expect(jobs).toEqual([]);
  });

  it('leaves fences that finished in time alone', () => {
    const progress = progressOf(PLAN);
    progress.seedReady();
    const [fenceJob] = progress.drain().jobs;
    const at = new Date(START + 1000).toISOString();
    progress.applyResult(fenceJob?.jobId ?? '', {
      v: 1,
      steps: [{ id: 'db/fence', outcome: 'done', startedAt: at, endedAt: at, output: { fenced: true } }],
    });
    progress.drain();
    expect(FenceDeadline.of(progress, START)?.expire(START + 30_000)).toBe(1);
    expect(progress.graph.state('db/fence').status).toBe('done');
    expect(progress.graph.state('web/fence').status).toBe('warned');
    expect(stepJobId('ex9', 'db/fence')).toBe(fenceJob?.jobId);
  });

  it('is not there for other failover types, and counts from the stored start', () => {
    expect(FenceDeadline.of(progressOf(PLAN, 'planned'), START)).toBeUndefined();
    const unplanned = progressOf(PLAN.replace('  fencing: { deadline: 30s }\n', ''));
    expect(FenceDeadline.of(unplanned, START - 5000)?.deadlineAt).toBe(START - 5000 + 60_000);
  });
});
