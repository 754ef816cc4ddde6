import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueueConnection, readAllEvents } from '../../engine/executor/index.ts';
import { actionFixtures, loadExample, startTestEngine, waitForStatus } from './support.ts';

describe('when a VM never becomes ready', () => {
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  beforeAll(async () => {
    fixtures = await actionFixtures();
  });
  afterAll(async () => {
    await fixtures?.close();
  });

  it('fails the plan naming the step, without retrying a non-retryable failure; its dependents never start', async () => {
    const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
    const sql = plan.vms.find((vm) => vm.name === 'sql-01');
    if (!sql) throw new Error('three-tier has sql-01');
    // The example's own policy (then: fail-plan), with one fast retry.
    sql.onFailure.retries = 1;
    sql.onFailure.backoff = { initialMs: 50, factor: 1, maxMs: 50 };
    sql.readiness = { checks: [{ kind: 'heartbeat' }], timeoutMs: 30_000, onTimeout: 'fail' };
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    try {
      engine.world.fault({ kind: 'boot', vm: 'sql-01', site: plan.target, mode: 'fail' });
      const { id } = await engine.client.submit({
        type: 'planned',
        plan,
        hash,
        reason: 'no heartbeat',
        approveManual: true,
      });
      const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000);
      expect(view.status).toBe('failed');
      expect(view.error).toMatch(/^sql-01\/readiness: /);
      const phases = (await engine.client.get(id, { vms: true })).vms ?? {};
      expect(phases['sql-01']).toBe('failed');
      expect(phases['app-01']).toBe('waiting');
      const redis = createQueueConnection(engine.redisUrl);
      const events = await readAllEvents(redis, engine.prefix, id);
      await redis.quit();
      const attempts = events.flatMap(({ event }) =>
        event.type === 'step-started' && event.step === 'sql-01/readiness' ? [event.attempt] : [],
      );
      // READINESS_TIMEOUT is not retryable (the handler says so); the plan's retries apply to retryable errors.
      expect(attempts).toEqual([1]);
      const dependentStarted = events.some(
        // (its shutdown at the source ran before, as a planned failover does)
        ({ event }) =>
          event.type === 'step-started' && event.step.startsWith('app-01/') && event.site === plan.target,
      );
      expect(dependentStarted).toBe(false);
    } finally {
      await engine.close();
    }
  });

  it('retries a retryable failure per the plan (a new job, attempt 2), then fails the plan', async () => {
    const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
    const sql = plan.vms.find((vm) => vm.name === 'sql-01');
    if (!sql) throw new Error('three-tier has sql-01');
    // The example's own policy (then: fail-plan), with one fast retry.
    sql.onFailure.retries = 1;
    sql.onFailure.backoff = { initialMs: 50, factor: 1, maxMs: 50 };
    // The host crashes after pre-flight passed (which refuses a run onto a crashed host) and
    // before the orchestrator starts the failover.
    const engine = await startTestEngine(plan, { catalog: fixtures.catalog, orchestrator: false });
    try {
      const { id } = await engine.client.submit({
        type: 'unplanned',
        plan,
        hash,
        reason: 'west host down',
        approveManual: true,
      });
      const [host] = await engine.world.api.listHosts(plan.target);
      engine.world.fault({ kind: 'host-crash', site: plan.target, host: host?.name ?? '' });
      await engine.startOrchestrator();
      const view = await waitForStatus(engine.client, id, ['completed', 'failed'], 60_000);
      expect(view.status).toBe('failed');
      expect(view.error).toMatch(/^sql-01\/failover: /);
      const redis = createQueueConnection(engine.redisUrl);
      const events = await readAllEvents(redis, engine.prefix, id);
      await redis.quit();
      const attempts = events.flatMap(({ event }) =>
        event.type === 'step-started' && event.step === 'sql-01/failover' ? [event.attempt] : [],
      );
      expect(attempts).toEqual([1, 2]);
    } finally {
      await engine.close();
    }
  });

  it("continue-without-dependents: the rest of the plan still fails over, the failed VM's dependents do not", async () => {
    const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
    const app2 = plan.vms.find((vm) => vm.name === 'app-02');
    if (!app2) throw new Error('three-tier has app-02');
    // app-02's own policy in the example: continue-without-dependents.
    app2.readiness = { checks: [{ kind: 'heartbeat' }], timeoutMs: 30_000, onTimeout: 'fail' };
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
      expect(view.error).toMatch(/app-02\/readiness/);
      const phases = (await engine.client.get(id, { vms: true })).vms ?? {};
      expect(phases).toMatchObject({
        'sql-01': 'ready',
        'app-01': 'ready',
        'app-02': 'failed',
        'web-01': 'waiting',
      });
      const truth = engine.world.truth();
      expect((await engine.world.api.getVM(plan.target, 'app-01')).state).toBe('Running');
      expect(truth.failovers.some((f) => f.vm === 'web-01')).toBe(false);
    } finally {
      await engine.close();
    }
  });
});
