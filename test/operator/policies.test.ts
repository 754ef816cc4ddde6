/**
 * The plan's failure policies other than pause (pause: pause.test.ts): retries with backoff (each
 * retry a new BullMQ job `.a<N>` delayed by the policy's backoff), then fail-plan; and
 * continue-without-dependents. Real Redis and BullMQ; the simulated sites are the judge.
 */
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../engine/contract/index.ts';
import {
  approveAction,
  bullOptions,
  createQueueConnection,
  giveOperatorCommand,
  siteQueueName,
  stepJobId,
} from '../../engine/executor/index.ts';
import { compilePlan } from '../../engine/plan/index.ts';
import {
  actionFixtures,
  executionEvents,
  loadExample,
  startTestEngine,
  waitForStatus,
} from '../engine/support.ts';

let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
beforeAll(async () => {
  fixtures = await actionFixtures();
});
afterAll(async () => {
  await fixtures?.close();
});

describe('failure policies', () => {
  it('retries with backoff (new jobs .a2, .a3 delayed initial × factor^n), then fails the plan', async () => {
    const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
    const sql = plan.vms.find((vm) => vm.name === 'sql-01');
    if (!sql) throw new Error('three-tier has sql-01');
    sql.onFailure = { retries: 2, backoff: { initialMs: 40, factor: 3, maxMs: 100 }, outcome: 'fail-plan' };
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    const redis = createQueueConnection(engine.redisUrl);
    const queue = new Queue(siteQueueName(plan.target), { connection: redis, ...bullOptions(engine.prefix) });
    try {
      const { id } = await engine.client.submit({ type: 'unplanned', plan, hash, reason: 'host lost' });
      // The target host dies after the pre-flight, while the plan waits for its manual SAN check.
      for (let i = 0; i < 600; i++) {
        if (
          (await executionEvents(engine, id)).some(
            (e) => e.type === 'execution-status' && e.detail?.includes('approval'),
          )
        )
          break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const [host] = await engine.world.api.listHosts(plan.target);
      engine.world.fault({ kind: 'host-crash', site: plan.target, host: host?.name ?? '' });
      await approveAction(redis, engine.prefix, id, 'confirm-san', 'alice', { comment: 'ok' });

      const view = await waitForStatus(engine.client, id, ['completed', 'failed', 'paused'], 60_000);
      expect(view.status).toBe('failed');
      expect(view.error).toMatch(/^sql-01\/failover: /);
      const log = await executionEvents(engine, id);
      const attempts = log.flatMap((e) =>
        e.type === 'step-started' && e.step === 'sql-01/failover' ? [e.attempt] : [],
      );
      expect(attempts).toEqual([1, 2, 3]);
      // Backoff: 40 ms before attempt 2, min(40 × 3, 100) = 100 ms before attempt 3.
      const delays = [];
      for (const attempt of [2, 3]) {
        const job = await queue.getJob(stepJobId(id, 'sql-01/failover', attempt));
        delays.push(job?.opts.delay);
      }
      expect(delays).toEqual([40, 100]);
      expect(log.some((e) => e.type === 'step-paused')).toBe(false);
      expect(
        log.some((e) => e.type === 'step-started' && e.step.startsWith('app-01/') && e.site === plan.target),
      ).toBe(false);
    } finally {
      await queue.close();
      await redis.quit();
      await engine.close();
    }
  });

  it('continue-without-dependents: independent VMs fail over, the failed VM’s dependents never start, the run ends failed', async () => {
    const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
    const app2 = plan.vms.find((vm) => vm.name === 'app-02');
    if (!app2) throw new Error('three-tier has app-02');
    app2.readiness = { checks: [{ kind: 'heartbeat' }], timeoutMs: 20_000, onTimeout: 'fail' };
    app2.onFailure = {
      retries: 0,
      backoff: { initialMs: 0, factor: 1, maxMs: 0 },
      outcome: 'continue-without-dependents',
    };
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    try {
      engine.world.fault({ kind: 'boot', vm: 'app-02', site: plan.target, mode: 'fail' });
      const { id } = await engine.client.submit({
        type: 'unplanned',
        plan,
        hash,
        reason: 'app-02 broken',
        approveManual: true,
      });
      const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000);
      expect(view.status).toBe('failed');
      const phases = (await engine.client.get(id, { vms: true })).vms ?? {};
      expect(phases).toMatchObject({
        'sql-01': 'ready',
        'app-01': 'ready',
        'app-02': 'failed',
        'web-01': 'waiting',
      });
      expect(engine.world.truth().failovers.some((f) => f.vm === 'web-01')).toBe(false);
      const statuses = (await executionEvents(engine, id)).flatMap((e) =>
        e.type === 'execution-status' ? [e.status] : [],
      );
      expect(statuses).not.toContain('paused');
    } finally {
      await engine.close();
    }
  });

  it('continue-without-dependents: while the run goes on, `done` on the failed step reopens its dependents and the run completes', async () => {
    const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
    const app2 = plan.vms.find((vm) => vm.name === 'app-02');
    if (!app2) throw new Error('three-tier has app-02');
    app2.readiness = { checks: [{ kind: 'heartbeat' }], timeoutMs: 20_000, onTimeout: 'fail' };
    app2.onFailure = {
      retries: 0,
      backoff: { initialMs: 0, factor: 1, maxMs: 0 },
      outcome: 'continue-without-dependents',
    };
    // An operator check after app-01 keeps the run going while app-02 has failed.
    plan.actions.push({
      name: 'check-app-01',
      when: 'after',
      vm: 'app-01',
      run: { type: 'manual', instruction: 'Log in to app-01 and check the batch queue' },
      timeoutMs: 3_600_000,
      on: ['unplanned'],
      directions: ['forward'],
      onFailure: { retries: 0, backoff: { initialMs: 0, factor: 1, maxMs: 0 }, outcome: 'fail-plan' },
    });
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    const redis = createQueueConnection(engine.redisUrl);
    try {
      engine.world.fault({ kind: 'boot', vm: 'app-02', site: plan.target, mode: 'fail' });
      const { id } = await engine.client.submit({ type: 'unplanned', plan, hash, reason: 'app-02 broken' });
      const waitFor = async (what: (log: EngineEvent[]) => boolean): Promise<void> => {
        for (let i = 0; i < 1200; i++) {
          if (what(await executionEvents(engine, id))) return;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error('timed out');
      };
      await waitFor((log) =>
        log.some((e) => e.type === 'execution-status' && e.detail?.includes('confirm-san')),
      );
      await approveAction(redis, engine.prefix, id, 'confirm-san', 'alice', { comment: 'ok' });
      await waitFor((log) =>
        log.some(
          (e) => e.type === 'step-finished' && e.step === 'app-02/readiness' && e.outcome === 'failed',
        ),
      );
      const steps = await redis.hgetall(`${engine.prefix}:{exec:${id}}:steps`);
      expect(steps['web-01/failover']).toMatch(/^failed/);
      // A dependent that never ran is refused at once; the operator acts on the failed step itself.
      const operate = (name: 'retry' | 'done', step: string, reason: string) =>
        giveOperatorCommand(redis, engine.prefix, {
          execution: id,
          command: name,
          step,
          by: 'gail',
          reason,
          compile: compilePlan,
        });
      await expect(operate('retry', 'web-01/failover', 'x')).rejects.toThrow(/never ran: it failed because/);
      const receipt = await operate('done', 'app-02/readiness', 'app-02 fixed by hand');
      expect(receipt).toMatchObject({ applied: true, accepted: true });
      await approveAction(redis, engine.prefix, id, 'check-app-01', 'alice', { comment: 'queue drained' });
      const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000);
      expect(view.status).toBe('completed');
      expect(engine.world.truth().failovers.some((f) => f.vm === 'web-01')).toBe(true);
    } finally {
      await redis.quit();
      await engine.close();
    }
  });
});
