/**
 * The orchestrator's side of follow units (progress.ts): it sends them with a batch, records the
 * ones a worker claimed as queued in that job (never dispatching them itself), also when the claim
 * came with a result it no longer counts, and waits for their results before it settles.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/common/index.ts';
import { type StepJobResult, type StepResult, stepJobId } from '../../engine/contract/index.ts';
import { ExecutionProgress } from '../../engine/executor/orchestrator/progress.ts';
import { vmPhase } from '../../engine/machines/index.ts';
import { compilePlan, parsePlan } from '../../engine/plan/index.ts';
import { jobContext } from '../../engine/schedule/index.ts';

type StepError = NonNullable<StepResult['error']>;

const silent = createLogger('test', { level: 'silent', pretty: false });
const at = '2026-01-01T00:00:00.000Z';
const PLAN = `apiVersion: dr/v1
kind: RecoveryPlan
metadata: { name: p }
spec:
  source: dc-east
  target: dc-west
  vms:
    - { name: db }
    - { name: web, dependsOn: [db] }
`;
const WEB = ['web/failover', 'web/boot', 'web/readiness'];
const DB = ['db/failover', 'db/boot', 'db/readiness'];
const DB_JOB = stepJobId('ex9', 'db/failover');

function done(ids: string[], claimed?: string[][]): StepJobResult {
  return {
    v: 1,
    steps: ids.map((id) => ({ id, outcome: 'done', startedAt: at, endedAt: at })),
    ...(claimed ? { claimed } : {}),
  };
}

/** A unit whose step `failed` failed with `error`: the steps before it done, those after skipped. */
function failedAt(ids: string[], failed: string, error: StepError): StepJobResult {
  const index = ids.indexOf(failed);
  return {
    v: 1,
    steps: ids.map((id, i) => ({
      id,
      outcome: i < index ? 'done' : i === index ? 'failed' : 'skipped',
      startedAt: at,
      endedAt: at,
      ...(i === index ? { error } : {}),
    })),
  };
}

/** Unplanned db → web with both fences done: db's unit is sent, with web as its follow. */
function afterFences() {
  const parsed = parsePlan(PLAN, 'plan.yaml');
  if (!parsed.ok) throw new Error(parsed.issues[0]?.message);
  const ctx = jobContext({
    execution: 'ex9',
    epoch: 7,
    type: 'unplanned',
    direction: 'forward',
    plan: parsed.plan,
  });
  const progress = new ExecutionProgress(
    ctx,
    compilePlan(parsed.plan, { type: 'unplanned' }).steps,
    {},
    {},
    silent,
  );
  progress.seedReady();
  progress.drain();
  progress.applyResult(stepJobId('ex9', 'db/fence'), done(['db/fence']));
  progress.applyResult(stepJobId('ex9', 'db/fence'), done(['web/fence']));
  return progress;
}

describe('follow units in the orchestrator', () => {
  it('sends a follow with its batch, then records it queued in that job when claimed', () => {
    const progress = afterFences();
    const { jobs } = progress.drain();
    expect(jobs.map((j) => j.jobId)).toEqual([DB_JOB]);
    expect(jobs[0]?.data.follows).toEqual([expect.objectContaining({ after: ['db/failover'], steps: WEB })]);

    progress.applyResult(DB_JOB, done(DB, [WEB]));
    const { write, jobs: next } = progress.drain();
    expect(next).toEqual([]);
    expect(Object.fromEntries(write.steps)).toMatchObject(
      Object.fromEntries(WEB.map((id) => [id, 'q|1|db/failover'])),
    );
    expect(vmPhase(progress.vm('web'))).not.toBe('waiting');

    progress.applyResult(DB_JOB, done(WEB));
    progress.drain();
    expect(progress.isSettled()).toBe(true);
  });

  it('sends the follow itself when the worker did not claim it', () => {
    const progress = afterFences();
    progress.drain();
    progress.applyResult(DB_JOB, done(DB));
    const { jobs } = progress.drain();
    expect(jobs.map((j) => j.jobId)).toEqual([stepJobId('ex9', 'web/failover')]);
  });

  it('adopts a claim that came with a result it no longer counts, and waits for the follow', () => {
    const progress = afterFences();
    progress.drain();
    // Reconcile found db's job failed (its worker lost it) and failed db's unit, retryable.
    progress.applyResult(
      DB_JOB,
      failedAt(DB, 'db/failover', { code: 'JOB_FAILED', message: 'stalled', retryable: true }),
      true,
    );
    // Retried as a new job (the plan's policy), which carries no follows.
    const retry = progress.drain().jobs;
    expect(retry.map((j) => j.jobId)).toEqual([stepJobId('ex9', 'db/failover', 2)]);
    expect(retry[0]?.data.follows).toBeUndefined();
    // ... while the first run went on: db ended well and it claimed web.
    progress.applyResult(DB_JOB, done(DB, [WEB]));
    const { write, jobs } = progress.drain();
    expect(jobs).toEqual([]);
    expect(Object.fromEntries(write.steps)).toMatchObject({ 'web/failover': 'q|1|db/failover' });
    // web's result in that job counts; db's second attempt finds its work done; nothing sent twice.
    progress.applyResult(DB_JOB, done(WEB));
    expect(progress.drain().jobs).toEqual([]);
    expect(progress.isSettled()).toBe(false);
    progress.applyResult(stepJobId('ex9', 'db/failover', 2), done(DB));
    expect(progress.drain().jobs).toEqual([]);
    expect(progress.isSettled()).toBe(true);
    expect(progress.graph.state('web/readiness').status).toBe('done');
  });

  it('changes nothing when a claim is read again after the follow went on (a replayed stream)', () => {
    const progress = afterFences();
    progress.drain();
    const webBootFailed = failedAt(WEB, 'web/boot', {
      code: 'BOOT_FAILED',
      message: 'the guest did not start',
      retryable: false,
    });
    // From the job's return value (reconcile on resume): db claimed web, web's boot failed ...
    progress.applyResult(DB_JOB, done(DB, [WEB]));
    progress.applyResult(DB_JOB, webBootFailed);
    // ... then the same results again from the completions stream.
    progress.applyResult(DB_JOB, done(DB, [WEB]));
    progress.applyResult(DB_JOB, webBootFailed);
    // The plan failed at web's boot; web's readiness never ran: still pending, not `skipped`, and
    // the boot's failure counted once.
    expect(progress.drain().jobs).toEqual([]);
    expect(progress.failure).toMatch(/^web\/boot: BOOT_FAILED/);
    expect(progress.graph.state('web/boot')).toMatchObject({ status: 'failed', attempt: 1 });
    expect(progress.graph.state('web/readiness').status).toBe('pending');
    expect(progress.failedSteps).toEqual(['web/boot']);
    expect(progress.isSettled()).toBe(true);
  });
});
